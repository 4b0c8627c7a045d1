"""The root schema: every domain module joined, limits and error codes applied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graph.adapters.strawberry import graphql_core_schema
from graph.cost.analysis import cost_analysis
from graph.extensions import (
    CachePolicy,
    CodedParserCache,
    ErrorCodes,
    OperationScopes,
    code_in_place,
    log_unexpected,
)
from graph.fastpath import install_attribute_resolvers
from graph.livescores import IngestResult
from graph.matches import Match
from graph.mutations import Mutation
from graph.operation_spans import ExecuteSpan, OperationSpans
from graph.planner.execution import PlannedExecutionContext
from graph.queries import Query
from graph.ratelimit.extension import RateLimiting
from graph.regions import Region
from graph.scalars import SCALAR_OVERRIDES
from graph.settings import Settings
from graph.subscriptions import Subscription
from graph.validation import validation_limits


class MatchGraphSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors)
        # Errors of an exception that escaped the operation (e.g. from a validation
        # rule) never reach ErrorCodes: they get their code here, in place.
        code_in_place(errors)


def _extensions(settings: Settings, observers: Sequence[Any] = ()) -> list[Any]:
    # Factories, never instances: an instance would share state between
    # concurrent operations. The limit rules are built once, though: a stable
    # set of rule classes is what lets ValidationCache recognise a document.
    limits = validation_limits(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_merge_cost=settings.max_field_merge_cost,
    )
    cache_size = settings.document_cache_size
    # Tracing's span extensions, only when it is on (graph/operation_spans.py says why here).
    first, execute = ([OperationSpans], [ExecuteSpan]) if settings.otel_enabled else ([], [])
    extensions: list[Any] = [
        *first,
        limits,
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: CodedParserCache(maxsize=cache_size),
        lambda: ValidationCache(maxsize=cache_size),
        # The first extension with an on_execute hook: it may refuse the operation
        # before any other has begun (graph/cost/analysis.py).
        cost_analysis(max_cost=settings.max_cost, enforce=settings.cost_mode == "enforce"),
        # Charges the estimate to the key's (or address's) budget; over it, nothing runs.
        # Only with a budget: its async hook is no work for every operation to do.
        *([RateLimiting] if settings.rate_limit_cost_per_minute else []),
        OperationScopes,
        *execute,
        # Inside the operation's scope, around ErrorCodes: they see coded errors and loaders.
        *observers,
        ErrorCodes,
        CachePolicy,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return extensions


def build_schema(
    settings: Settings | None = None, *, observers: Sequence[Any] = ()
) -> strawberry.Schema:
    """The schema; `observers` are extension factories the API adds (e.g. its metrics)."""
    settings = settings or Settings()
    schema = MatchGraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Match, Region, IngestResult],
        extensions=_extensions(settings, observers),
        scalar_overrides=SCALAR_OVERRIDES,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=PlannedExecutionContext,
    )
    install_attribute_resolvers(graphql_core_schema(schema))
    return schema


def export_sdl() -> str:
    """The SDL that schema.graphql holds (independent of runtime limits)."""
    return build_schema(Settings()).as_str() + "\n"
