"""The estimated cost of one operation, before anything executes (IBM cost spec, static).

The cost of a field is `(weight + cost of its selection) x instances`:

- weight: its `@cost`, else 1 for an object, interface or union and 0 for a
  scalar or enum; introspection fields (`__typename`, `__schema`, `__type`)
  cost 0 with everything below them;
- instances: 1, or for a list the size its `@listSize` gives: the largest of
  its slicing arguments (the request's value, a variable's value, or the
  argument's default when absent or null; a negative value counts as 0), else
  its `assumedSize`; a list sized by its parent (`sizedFields`, e.g.
  `MatchConnection.edges` under `matches(first:)`) takes the parent's size. A
  list with no size at all counts UNSIZED_LIST items.

Selections are collected as the executor collects them: fragments and inline
fragments whose type applies, each named fragment once per selection, fields
merged by response key (so aliases count once each), `@skip`/`@include` with
the request's variables. An abstract type (`node` returns the `Node`
interface) costs the most of its possible types. The walk uses no recursion
for fragments (an explicit stack), and recursion for fields only as deep as
the validated operation is (at most MATCHGRAPH_MAX_DEPTH).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    VariableValues,
    get_directive_values,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_composite_type,
    is_list_type,
    is_object_type,
    value_from_ast,
)

from graph.adapters.strawberry import DEFINITION_KEY
from graph.cost.directives import Cost, ListSize

# Items counted for a list of objects that declares no size (every such list of ours does:
# tests/test_cost.py checks it).
UNSIZED_LIST = 100


@dataclass(frozen=True)
class FieldWeights:
    """What the directives of one field declare."""

    weight: int | None = None
    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()


def _weights(field: GraphQLField) -> FieldWeights | None:
    definition = (field.extensions or {}).get(DEFINITION_KEY)
    directives: Sequence[object] = getattr(definition, "directives", None) or ()
    weight: int | None = None
    size: ListSize | None = None
    for directive in directives:
        if isinstance(directive, Cost):
            weight = directive.weight
        elif isinstance(directive, ListSize):
            size = directive
    if weight is None and size is None:
        return None
    return FieldWeights(
        weight=weight,
        assumed_size=(size.assumed_size or None) if size is not None else None,
        slicing_arguments=tuple((size.slicing_arguments or ()) if size is not None else ()),
        sized_fields=tuple((size.sized_fields or ()) if size is not None else ()),
    )


class CostModel:
    """Every field's declared weights, read once from a schema's Strawberry fields."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.fields: dict[tuple[str, str], FieldWeights] = {}
        for type_name, named in schema.type_map.items():
            for field_name, field in (getattr(named, "fields", None) or {}).items():
                if isinstance(field, GraphQLField):
                    found = _weights(field)
                    if found is not None:
                        self.fields[(type_name, field_name)] = found

    def weights(self, type_name: str, field_name: str) -> FieldWeights | None:
        return self.fields.get((type_name, field_name))

    def estimate(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> int:
        """The operation's cost with these variable values (graphql-core's coercion)."""
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        return _Walk(self, fragments, variables).selection(root, [operation.selection_set], {})


def operation_fragments(definitions: Iterable[object]) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}


class _Walk:
    def __init__(
        self,
        model: CostModel,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> None:
        self.model = model
        self.schema = model.schema
        self.fragments = fragments
        self.variables = variables
        self.values = variables.coerced

    def selection(
        self,
        named: GraphQLNamedType,
        selection_sets: list[SelectionSetNode],
        sized: Mapping[str, int],
    ) -> int:
        """The cost of these merged selection sets on `named` (the most of its types)."""
        if is_object_type(named):
            assert isinstance(named, GraphQLObjectType)
            return self._on_object(named, selection_sets, sized)
        if is_abstract_type(named):
            possible = self.schema.get_possible_types(named)
            return max((self._on_object(t, selection_sets, sized) for t in possible), default=0)
        return 0

    def _on_object(
        self,
        object_type: GraphQLObjectType,
        selection_sets: list[SelectionSetNode],
        sized: Mapping[str, int],
    ) -> int:
        total = 0
        for nodes in self._collect(object_type, selection_sets).values():
            name = nodes[0].name.value
            total += self._field(object_type, name, nodes, sized.get(name))
        return total

    def _field(
        self, parent: GraphQLObjectType, name: str, nodes: list[FieldNode], upstream: int | None
    ) -> int:
        if name.startswith("__"):  # introspection: free, with everything below it
            return 0
        field = parent.fields.get(name)
        if field is None:  # validation refuses unknown fields; nothing to count
            return 0
        declared = self.model.weights(parent.name, name) or FieldWeights()
        named = get_named_type(field.type)
        composite = is_composite_type(named)
        weight = declared.weight if declared.weight is not None else int(composite)
        size = self._size(field, nodes[0], declared)
        below: dict[str, int] = {}
        if size is not None and declared.sized_fields:
            below = dict.fromkeys(declared.sized_fields, size)
        children = 0
        if composite:
            sets = [n.selection_set for n in nodes if n.selection_set is not None]
            if sets:
                children = self.selection(named, sets, below)
        instances = 1
        if is_list_type(get_nullable_type(field.type)):
            if upstream is not None:
                instances = upstream
            elif size is not None and not declared.sized_fields:
                instances = size
            else:
                instances = UNSIZED_LIST if composite else 0
        return (weight + children) * instances

    def _size(self, field: GraphQLField, node: FieldNode, declared: FieldWeights) -> int | None:
        """The largest slicing argument (given, or its default), else the assumed size."""
        sizes: list[int] = []
        for argument in declared.slicing_arguments:
            definition = field.args.get(argument)
            if definition is None:
                continue
            value: Any = Undefined
            for given in node.arguments or ():
                if given.name.value == argument:
                    value = value_from_ast(given.value, definition.type, self.values)
            if value is Undefined or value is None:
                value = definition.default_value
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(max(value, 0))
        if sizes:
            return max(sizes)
        return declared.assumed_size

    def _collect(
        self, object_type: GraphQLObjectType, selection_sets: list[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        """Fields by response key, as the executor collects them (without recursion)."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        stack = list(reversed(selection_sets))
        while stack:
            for selection in stack.pop().selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    if condition is None or self._applies(condition.name.value, object_type):
                        stack.append(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in visited:
                        continue
                    visited.add(name)
                    fragment = self.fragments.get(name)
                    if fragment is not None and self._applies(
                        fragment.type_condition.name.value, object_type
                    ):
                        stack.append(fragment.selection_set)
        return fields

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode | Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _applies(self, condition: str, object_type: GraphQLObjectType) -> bool:
        conditional = self.schema.get_type(condition)
        if conditional is None:
            return False
        if conditional is object_type:
            return True
        if is_abstract_type(conditional):
            return self.schema.is_sub_type(conditional, object_type)
        return False
