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

`tests/test_library_adapters.py` checks each of these against the installed
graphql-core; when it fails after an upgrade, fix this module, not its users.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from graphql import GraphQLOutputType, GraphQLResolveInfo, ValidationContext
from graphql.pyutils import Path
from graphql.validation import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError

from graph.adapters.strawberry import ExecutionContextBase

GRAPHQL_CORE_VERSION = "3.3.2"  # the version this adapter was written against

__all__ = [
    "GRAPHQL_CORE_VERSION",
    "BudgetedFieldMergingRule",
    "ListCompletionContext",
    "ValidationAbortedError",
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
