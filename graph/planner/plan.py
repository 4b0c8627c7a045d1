"""Compiling an operation's root fields into plans.

The Strawberry schema is the single source of truth: a plan is read off the
graphql-core schema Strawberry built (types, response names, nullability) and
the `planned` marks its fields carry (graph/planner/binding.py). Selections are
collected by graphql-core itself (`collect_subfields`: fragments, inline
fragments, @include/@skip with the operation's variables), so a plan sees the
same fields, in the same order, as graphql-core's execution would.

A root field compiles when every field under it is planned, or is an unplanned
nullable field of a type whose rows can build the resolvers' objects (Match,
Region): graphql-core resolves those inside the planned page ("delegated").
Anything else leaves the root field to graphql-core, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    get_named_type,
    is_abstract_type,
)

from graph.adapters.graphql_core import FieldGroup, collect_field_group
from graph.adapters.strawberry import DEFINITION_KEY
from graph.planner.binding import Kind, planned_kind
from graph.planner.rows import ROW_SETS, NotPlanned

INT32 = 2**31
Check = Callable[[list[Any]], bool]


@dataclass(slots=True)
class FieldPlan:
    """One response key of an object plan."""

    key: str
    name: str  # the row set's method (Python name); "" for __typename and delegated
    kind: Kind | None  # None: __typename or delegated
    group: FieldGroup  # graphql-core's field details (arguments, delegation, errors)
    field_def: GraphQLField | None = None
    typename: str | None = None  # __typename's value
    check: Check | None = None  # leaves: values graphql-core serializes as they are
    child: TypePlan | None = None  # joins
    nullable: bool = True


@dataclass(slots=True)
class ObjectPlan:
    """The fields to complete for rows of one object type."""

    graphql_type: GraphQLObjectType
    fields: list[FieldPlan]
    keys: tuple[str, ...] = ()
    delegated: list[FieldPlan] = field(default_factory=list)
    # Some field in this subtree is delegated: rows need their response paths.
    needs_paths: bool = False


TypePlan = dict[str, ObjectPlan]  # by runtime type name (one entry for object types)


def compile_field(
    executor: Any, parent_type: GraphQLObjectType, key: str, group: FieldGroup
) -> FieldPlan:
    """The plan of one field of `parent_type`; NotPlanned when it cannot have one."""
    node = group[0].node
    name = node.name.value
    if group[0].fragment_variable_values is not None:
        raise NotPlanned("unplanned-field")
    if name == "__typename":
        return FieldPlan(key, "", None, group, typename=parent_type.name)
    field_def = parent_type.fields.get(name)
    if field_def is None:
        raise NotPlanned("unplanned-field")
    definition = (field_def.extensions or {}).get(DEFINITION_KEY)
    kind = planned_kind(getattr(definition, "metadata", None))
    nullable = not isinstance(field_def.type, GraphQLNonNull)
    if kind is None:
        if nullable and not name.startswith("__"):
            return FieldPlan(key, "", None, group, field_def=field_def)  # delegated
        raise NotPlanned("unplanned-field")
    python_name: str = getattr(definition, "python_name", "")
    rows = ROW_SETS.get(parent_type.name)
    if rows is None or not callable(getattr(rows, python_name, None)):
        raise NotPlanned("unplanned-field")
    plan = FieldPlan(key, python_name, kind, group, field_def=field_def, nullable=nullable)
    if kind is Kind.COLUMN:
        plan.check = leaf_check(field_def.type)
    else:
        plan.child = compile_type(executor, _item_type(field_def.type, kind), group)
    return plan


def compile_type(executor: Any, graphql_type: Any, group: FieldGroup) -> TypePlan:
    """Plans of the object types a field may return, keyed by type name."""
    if is_abstract_type(graphql_type):
        possible = executor.schema.get_possible_types(graphql_type)
        return {t.name: compile_object(executor, t, group) for t in possible if t.name in ROW_SETS}
    if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name not in ROW_SETS:
        raise NotPlanned("unplanned-field")
    return {graphql_type.name: compile_object(executor, graphql_type, group)}


def compile_object(executor: Any, graphql_type: GraphQLObjectType, group: FieldGroup) -> ObjectPlan:
    grouped = collect_field_group(executor, graphql_type, group)
    if grouped is None:
        raise NotPlanned("unplanned-field")  # @defer
    fields = [compile_field(executor, graphql_type, key, sub) for key, sub in grouped.items()]
    delegated = [f for f in fields if f.kind is None and f.typename is None]
    if delegated and not ROW_SETS[graphql_type.name].has_sources:
        raise NotPlanned("unplanned-field")
    needs_paths = bool(delegated) or any(
        p.needs_paths for f in fields if f.child for p in f.child.values()
    )
    return ObjectPlan(
        graphql_type,
        fields,
        keys=tuple(f.key for f in fields),
        delegated=delegated,
        needs_paths=needs_paths,
    )


def _item_type(graphql_type: GraphQLOutputType, kind: Kind) -> Any:
    inner = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    if kind is Kind.JOIN_MANY:
        if not isinstance(inner, GraphQLList):
            raise NotPlanned("unplanned-field")
        item = inner.of_type
        if not isinstance(item, GraphQLNonNull):
            raise NotPlanned("unplanned-field")  # rows never hold nulls in a list
        return item.of_type
    if isinstance(inner, GraphQLList):
        raise NotPlanned("unplanned-field")
    return inner


def leaf_check(graphql_type: GraphQLOutputType) -> Check:
    """A check that graphql-core would serialize `values` unchanged and without error."""
    nullable = not isinstance(graphql_type, GraphQLNonNull)
    named = get_named_type(graphql_type)
    allowed: frozenset[type] = frozenset({type(None)}) if nullable else frozenset()
    if isinstance(named, GraphQLEnumType):
        names = frozenset(named.values) | ({None} if nullable else set())
        return lambda values: names.issuperset(values)
    if not isinstance(named, GraphQLScalarType):
        raise NotPlanned("unplanned-field")
    scalar = named.name
    if scalar in ("String", "ID", "DateTime"):
        ok = allowed | {str}
        return lambda values: ok.issuperset(map(type, values))
    if scalar == "Boolean":
        ok = allowed | {bool}
        return lambda values: ok.issuperset(map(type, values))
    if scalar == "Int":
        ok = allowed | {int}
        return lambda values: ok.issuperset(map(type, values)) and _int32(values, nullable)
    if scalar == "Float":
        ok = allowed | {float}
        return lambda values: ok.issuperset(map(type, values)) and _finite(values, nullable)
    raise NotPlanned("unplanned-field")


def _int32(values: list[Any], nullable: bool) -> bool:
    present = [v for v in values if v is not None] if nullable else values
    return not present or (min(present) >= -INT32 and max(present) < INT32)


def _finite(values: list[Any], nullable: bool) -> bool:
    present = [v for v in values if v is not None] if nullable else values
    # any NaN or infinity makes the sum non-finite (an overflow too: a needless fallback)
    return math.isfinite(sum(present))
