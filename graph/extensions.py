"""Schema extensions: error codes on every error, nothing internal leaked."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.types.graphql import OperationType

from graph.adapters.strawberry import ErrorRewriting
from graph.context import Context
from graph.errors import Code

log = logging.getLogger("matchgraph.errors")
MASKED_MESSAGE = "Internal error."

_USER_INPUT = re.compile(
    r"Argument|argument|Expected value|Variable|cannot represent|exceeds maximum operation depth"
    r"|aliases found|tokens|Expected type"
)


def classify(error: GraphQLError) -> Code:
    """The code for an error that did not carry one."""
    if isinstance(error, GraphQLSyntaxError):
        return Code.BAD_USER_INPUT if "tokens" in error.message else Code.GRAPHQL_PARSE_FAILED
    if error.path is None:  # before execution: validation or variable coercion
        if _escaped(error):  # an exception that escaped the operation: a bug
            return Code.INTERNAL
        if _USER_INPUT.search(error.message):
            return Code.BAD_USER_INPUT
        return Code.GRAPHQL_VALIDATION_FAILED
    if error.original_error is None:
        return Code.BAD_USER_INPUT
    return Code.INTERNAL


def _escaped(error: GraphQLError) -> bool:
    """An exception raised during the operation, which Strawberry wraps without a
    location; validation and variable coercion report errors at their nodes."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError) and not error.nodes


def coded(error: GraphQLError) -> GraphQLError:
    """`error` with `extensions.code`; an unexpected one masked (details only in the log)."""
    if error.extensions and "code" in error.extensions:
        return error
    code = classify(error)
    if code is Code.INTERNAL:
        masked = GraphQLError(
            MASKED_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": code.value},
        )
        return masked
    error.extensions = {**(error.extensions or {}), "code": code.value}
    return error


def code_in_place(errors: list[GraphQLError]) -> None:
    """Give every error of `errors` its code, replacing masked ones in the list itself."""
    errors[:] = [coded(error) for error in errors]


class ErrorCodes(ErrorRewriting):
    """Adds `extensions.code` to every error and masks unexpected ones."""

    def __init__(self) -> None:
        super().__init__(error_message=MASKED_MESSAGE)

    def rewrite_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [coded(error) for error in errors]


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log errors that are bugs (with traceback); expected ones are the client's business."""
    for error in errors:
        if error.extensions and "code" in error.extensions:
            continue
        if classify(error) is Code.INTERNAL:
            log.error("unexpected error at %s", error.path, exc_info=error.original_error)


class CachePolicy(SchemaExtension):
    """Only queries may be cached; mutations and subscriptions never are."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context):
            return
        try:
            operation_type = self.execution_context.operation_type
        except RuntimeError:  # no valid operation: nothing worth caching
            operation_type = None
        if operation_type is not OperationType.QUERY:
            context.uncacheable()


class OperationScopes(SchemaExtension):
    """Each operation on a shared (WebSocket) context pins its own snapshot and loaders."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        token = await context.enter_operation() if isinstance(context, Context) else None
        try:
            yield
        finally:
            if isinstance(context, Context):
                context.exit_operation(token)


class CodedParserCache(ParserCache):
    """Strawberry's ParserCache; its parse errors skip ErrorCodes, so they are coded here."""

    def on_parse(self) -> Iterator[None]:
        try:
            yield from super().on_parse()
        except GraphQLError as error:
            error.extensions = {**(error.extensions or {}), "code": classify(error).value}
            raise
