"""Plain attribute fields resolved with one getattr instead of Strawberry's call chain.

Strawberry resolves a field without a resolver through three nested calls
(`_get_basic_result` -> `StrawberryField.get_result` -> default resolver).
On a 5000-card page that is 75,000 fields; replacing those resolvers by a
single getattr cuts the whole request by a sixth (see bench/). Only fields
Strawberry itself marks as basic (`is_default_resolver`, no resolver, no
extensions, no permission classes) are touched, so semantics are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema

from graph.adapters.strawberry import DEFINITION_KEY, is_default_resolver


def _getter(name: str) -> Callable[..., Any]:
    def resolve(source: Any, info: Any, **_: Any) -> Any:
        return getattr(source, name)

    return resolve


def install_attribute_resolvers(schema: GraphQLSchema) -> int:
    """Swap basic-field resolvers for direct getattr; returns how many were swapped."""
    swapped = 0
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for field in graphql_type.fields.values():
            definition = (field.extensions or {}).get(DEFINITION_KEY)
            if (
                definition is None
                or field.resolve is None
                or not is_default_resolver(field.resolve)
            ):
                continue
            if definition.base_resolver is not None or definition.extensions:
                continue
            if getattr(definition, "permission_classes", None):
                continue
            field.resolve = _getter(definition.python_name)
            swapped += 1
    return swapped
