"""Validation limits whose own cost stays bounded whatever document a client sends.

Validation runs on the event loop before any limit of execution applies, so
each rule here must cost at most linear time in the document (which the token
limit bounds) or stop at a fixed budget:

- Depth and alias limits. Strawberry's `QueryDepthLimiter` and
  `MaxAliasesLimiter` walk every fragment spread anew, so a few hundred tokens
  of fragments that each spread the next one three times cost 3^k walks (k = 13
  took 1.6 s, every further level triples it), and a chain of ~600 fragments
  overflowed the interpreter's recursion limit. These rules compute each
  fragment once, without recursion, with the same semantics (introspection
  fields do not count towards depth; aliases are counted per spread, as
  they would appear in the response).
- Field merging. graphql-core's `OverlappingFieldsCanBeMergedRule` compares
  every pair of fields that share a response name: 540 copies of
  `matches(first: 1) { totalCount }` (within the token limit) took 0.46 s here,
  2 s on a loaded machine. graphql-core meters that work and aborts at a budget
  of 500,000 units (2 per pair compared, more with arguments); we run the same
  rule with our own budget (`MATCHGRAPH_MAX_FIELD_MERGE_COST`, 20,000), which
  real queries never approach (GraphiQL's introspection query spends 0), and
  answer BAD_USER_INPUT beyond it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from graphql.validation import ASTValidationRule, OverlappingFieldsCanBeMergedRule
from strawberry.extensions import SchemaExtension

from graph.adapters.graphql_core import BudgetedFieldMergingRule
from graph.errors import Code

_CODE = {"code": Code.BAD_USER_INPUT.value}


@dataclass
class _Definition:
    """What one operation or fragment holds itself, and where it spreads fragments."""

    depth: int = 0  # deepest field nesting, introspection subtrees left out
    aliases: int = 0
    # (fragment name, field nesting at the spread, whether it counts towards depth)
    spreads: list[tuple[str, int, bool]] = field(default_factory=list)


def _scan(selection_set: SelectionSetNode) -> _Definition:
    """One pass over a definition's own selections (no recursion: an explicit stack)."""
    found = _Definition()
    stack: list[tuple[SelectionSetNode, int, bool]] = [(selection_set, 0, True)]
    while stack:
        selections, level, counted = stack.pop()
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    found.aliases += 1
                if counted:
                    found.depth = max(found.depth, level)
                if selection.selection_set is not None:
                    # Introspection fields (`__schema`, `__type`) do not count towards depth.
                    inside = counted and not selection.name.value.startswith("__")
                    stack.append((selection.selection_set, level + 1, inside))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, level, counted))
            elif isinstance(selection, FragmentSpreadNode):
                found.spreads.append((selection.name.value, level, counted))
    return found


class DocumentShape:
    """Depth and alias count of each operation, every fragment resolved once."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments: dict[str, _Definition] = {}
        self.operations: list[tuple[OperationDefinitionNode, _Definition]] = []
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments[definition.name.value] = _scan(definition.selection_set)
            elif isinstance(definition, OperationDefinitionNode):
                self.operations.append((definition, _scan(definition.selection_set)))
        self._depth: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._resolve_fragments()

    def depth(self, definition: _Definition) -> int:
        depth = definition.depth
        for name, level, counted in definition.spreads:
            if counted:
                depth = max(depth, level + self._depth.get(name, 0))
        return depth

    def aliases(self, definition: _Definition) -> int:
        return definition.aliases + sum(self._aliases.get(n, 0) for n, _, _ in definition.spreads)

    def _resolve_fragments(self) -> None:
        """Post-order over the spread graph without recursion; a spread closing a cycle
        (reported by NoFragmentCyclesRule) or naming an unknown fragment adds nothing."""
        for root in self.fragments:
            if root in self._depth:
                continue
            path: list[tuple[str, Iterator[tuple[str, int, bool]]]] = [
                (root, iter(self.fragments[root].spreads))
            ]
            on_path = {root}
            while path:
                name, spreads = path[-1]
                for spread, _, _ in spreads:
                    known = spread in self.fragments and spread not in self._depth
                    if known and spread not in on_path:
                        path.append((spread, iter(self.fragments[spread].spreads)))
                        on_path.add(spread)
                        break
                else:
                    path.pop()
                    on_path.discard(name)
                    definition = self.fragments[name]
                    self._depth[name] = self.depth(definition)
                    self._aliases[name] = self.aliases(definition)


def depth_limit_rule(max_depth: int) -> type[ASTValidationRule]:
    """Each operation's field nesting at most `max_depth` (fragments included)."""

    class DepthLimitRule(ValidationRule):
        def enter_document(self, *_args: Any) -> None:
            shape = DocumentShape(self.context.document)
            for operation, definition in shape.operations:
                if shape.depth(definition) > max_depth:
                    name = operation.name.value if operation.name else "anonymous"
                    self.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {max_depth}",
                            operation,
                            extensions=_CODE,
                        )
                    )

    return DepthLimitRule


def alias_limit_rule(max_aliases: int) -> type[ASTValidationRule]:
    """At most `max_aliases` aliases in the document, each spread counted where it lands."""

    class AliasLimitRule(ValidationRule):
        def enter_document(self, *_args: Any) -> None:
            shape = DocumentShape(self.context.document)
            total = sum(shape.aliases(definition) for _, definition in shape.operations)
            if total > max_aliases:
                shown = f"{total}" if total < 10**9 else "over 10^9"
                self.report_error(
                    GraphQLError(f"{shown} aliases found. Allowed: {max_aliases}", extensions=_CODE)
                )

    return AliasLimitRule


def bounded_field_merging(budget: int) -> type[ASTValidationRule]:
    """graphql-core's OverlappingFieldsCanBeMergedRule with a complexity budget of `budget`
    units (graphql-core's own: 500,000)."""

    class BoundedFieldMergingRule(BudgetedFieldMergingRule):
        over_budget_extensions = _CODE

        def over_budget_message(self) -> str:
            return (
                "too many fields share a response name: checking that they can be "
                f"merged costs more than the limit of {budget}; remove the repeated "
                "fields or give them distinct aliases"
            )

    BoundedFieldMergingRule.budget = budget
    return BoundedFieldMergingRule


def swap_rules(
    rules: Iterable[type[ASTValidationRule]],
    replacements: dict[type[ASTValidationRule], type[ASTValidationRule]],
    extra: Iterable[type[ASTValidationRule]],
) -> tuple[type[ASTValidationRule], ...]:
    return (*(replacements.get(rule, rule) for rule in rules), *extra)


def validation_limits(
    *, max_depth: int, max_aliases: int, max_merge_cost: int
) -> Callable[[], SchemaExtension]:
    """An extension factory: the bounded rules in place of the spec's and Strawberry's.

    The rule classes are built once here: ValidationCache keys its entries by the
    tuple of rule classes, so it must be the same tuple for every operation.
    """
    replacements: dict[type[ASTValidationRule], type[ASTValidationRule]] = {
        OverlappingFieldsCanBeMergedRule: bounded_field_merging(max_merge_cost)
    }
    extra = (depth_limit_rule(max_depth), alias_limit_rule(max_aliases))

    class ValidationLimits(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.validation_rules = swap_rules(context.validation_rules, replacements, extra)
            yield

    return ValidationLimits
