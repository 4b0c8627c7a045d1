"""Compiled root plans, cached per schema like the validation cache caches documents.

A plan depends on the document, the operation and the values of the Boolean
variables (only they can drive @include/@skip), so those make the key; every
other variable is read when the plan runs. Plans keep the field nodes they were
compiled from: a later request with the same text has structurally identical
nodes, so arguments, delegated fields and error locations come out the same.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any
from weakref import WeakKeyDictionary

from graphql import GraphQLSchema, NonNullTypeNode, OperationDefinitionNode

_caches: WeakKeyDictionary[GraphQLSchema, OrderedDict[Hashable, Any]] = WeakKeyDictionary()


def plan_key(operation: OperationDefinitionNode, variable_values: Any) -> Hashable | None:
    """The cache key of an operation's plans; None when it has no source text."""
    if operation.loc is None:
        return None
    coerced = getattr(variable_values, "coerced", variable_values) or {}
    switches = []
    for definition in operation.variable_definitions or ():
        type_node = definition.type
        if isinstance(type_node, NonNullTypeNode):
            type_node = type_node.type
        if getattr(getattr(type_node, "name", None), "value", None) == "Boolean":
            variable = definition.variable.name.value
            switches.append((variable, coerced.get(variable)))
    name = operation.name.value if operation.name else None
    return operation.loc.source.body, operation.loc.start, name, tuple(switches)


def cached_plans(schema: GraphQLSchema, key: Hashable) -> Any:
    cache = _caches.get(schema)
    if cache is None:
        return None
    plans = cache.get(key)
    if plans is not None:
        cache.move_to_end(key)
    return plans


def store_plans(schema: GraphQLSchema, key: Hashable, plans: Any, size: int) -> None:
    cache = _caches.setdefault(schema, OrderedDict())
    cache[key] = plans
    while len(cache) > size:
        cache.popitem(last=False)
