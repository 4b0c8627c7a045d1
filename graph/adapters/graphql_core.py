"""graphql-core's internals, named here only (written against graphql-core 3.3.2).

What the rest of the code relies on that graphql-core marks private:

- `ListCompletionContext`: the executor's list completion
  (`complete_iterable_value`, `get_stream_usage`, `complete_list_item_value`,
  `complete_awaitable_list_item_value`, `settle_in_background`), as steps of
  ours: `complete_list` (the override point), `complete_list_default`,
  `uses_stream`, `complete_item`, `complete_awaitable_item`, `settle_pending`.
  `graph/execution.py` completes long lists with them.
- `BudgetedFieldMergingRule`: `OverlappingFieldsCanBeMergedRule` with its
  complexity budget (`rule_context.remaining_complexity_budget`), its abort
  (`ValidationAbortedError`, from `graphql.validation.validate`) and the visitor
  step that raises it (`enter_selection_set`). `graph/validation.py` sets the budget.

- Also on `ListCompletionContext`: the executor's root-field step
  (`execute_root_grouped_field_set`), its per-field step (`execute_field`), its
  field error handling (`handle_field_error`) and its selection collection
  (`collect_subfields`, `FieldDetailsList`, `get_argument_values`), as
  `execute_root_fields` (the override point), `execute_root_fields_default`,
  `execute_field`, `field_error`, and the functions `collect_field_group`,
  `argument_values` and the alias `FieldGroup`. `graph/planner/` compiles and runs plans
  with them.

`tests/test_library_adapters.py` checks each of these against the installed
graphql-core; when it fails after an upgrade, fix this module, not its users.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    ValidationContext,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from graphql.validation import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError

from graph.adapters.strawberry import ExecutionContextBase

GRAPHQL_CORE_VERSION = "3.3.2"  # the version this adapter was written against

# The field nodes one response key stands for (graphql-core's FieldDetailsList).
FieldGroup = FieldDetailsList

__all__ = [
    "GRAPHQL_CORE_VERSION",
    "BudgetedFieldMergingRule",
    "FieldGroup",
    "ListCompletionContext",
    "ValidationAbortedError",
    "argument_values",
    "collect_field_group",
]


class ListCompletionContext(ExecutionContextBase):
    """Strawberry's execution context with graphql-core's list completion as our steps."""

    # graphql-core's steps for one list item and for pending awaitables, under our
    # names: the very methods (no extra call per item on the hot path).
    complete_item = ExecutionContextBase.complete_list_item_value
    complete_awaitable_item = ExecutionContextBase.complete_awaitable_list_item_value
    settle_pending = ExecutionContextBase.settle_in_background
    # graphql-core's own list completion (what `complete_list` does unless overridden)
    complete_list_default = ExecutionContextBase.complete_iterable_value
    # graphql-core's handling of a field's error: collected, or raised to null a parent
    field_error = ExecutionContextBase.handle_field_error
    # graphql-core's execution of the root fields (what `execute_root_fields` does)
    execute_root_fields_default = ExecutionContextBase.execute_root_grouped_field_set

    def execute_root_grouped_field_set(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: dict[str, FieldGroup],
        serially: bool,
        position_context: Any,
    ) -> Any:
        return self.execute_root_fields(
            root_type, root_value, grouped_field_set, serially, position_context
        )

    def execute_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: dict[str, FieldGroup],
        serially: bool,
        position_context: Any,
    ) -> Any:
        """Execute the operation's root fields (override to do it another way)."""
        return self.execute_root_fields_default(
            root_type, root_value, grouped_field_set, serially, position_context
        )

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        return self.complete_list(
            item_type, field_details_list, info, path, items, position_context
        )

    def complete_list(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        """Complete a list field's items (override to do it another way)."""
        return self.complete_list_default(
            item_type, field_details_list, info, path, items, position_context
        )

    def uses_stream(self, field_details_list: Any, path: Path) -> bool:
        """The list field is delivered with @stream."""
        return self.get_stream_usage(field_details_list, path) is not None


class BudgetedFieldMergingRule(OverlappingFieldsCanBeMergedRule):
    """graphql-core's field-merging rule with a complexity budget of `budget` units.

    Beyond it, validation aborts with `over_budget_message()` (and
    `over_budget_extensions`) instead of graphql-core's own message.
    """

    budget: ClassVar[int]
    over_budget_extensions: ClassVar[dict[str, Any] | None] = None

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = self.budget

    def over_budget_message(self) -> str:
        raise NotImplementedError

    def enter_selection_set(self, *args: Any) -> None:
        try:
            super().enter_selection_set(*args)
        except ValidationAbortedError:
            if self.rule_context.remaining_complexity_budget >= 0:
                raise  # another abort (too many errors): not ours to rename
            raise ValidationAbortedError(
                self.over_budget_message(), extensions=self.over_budget_extensions
            ) from None


def collect_field_group(
    executor: Any, graphql_type: GraphQLObjectType, group: FieldGroup
) -> dict[str, FieldGroup] | None:
    """The sub-selections of `group` on `graphql_type` by response key, as graphql-core's
    execution collects them (fragments, @include/@skip); None when @defer is involved."""
    grouped, new_defer_usages, _forbidden = executor.collect_subfields(graphql_type, group)
    if new_defer_usages or any(d.defer_usage is not None for g in grouped.values() for d in g):
        return None
    return dict(grouped)


def argument_values(executor: Any, field_def: GraphQLField, group: FieldGroup) -> dict[str, Any]:
    """The field's coerced arguments by GraphQL name, as `execute_field` passes them."""
    details = group[0]
    if not (field_def.args or details.node.arguments):
        return {}
    return get_argument_values(
        field_def,
        details.node,
        executor.variable_values,
        details.fragment_variable_values,
        executor.hide_suggestions,
    )
