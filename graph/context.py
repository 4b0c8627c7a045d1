"""The typed per-operation context every resolver receives."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

import strawberry

from graph.execution import OperationStop
from graph.loaders import BatchLoader, SnapshotLoader
from graph.ratelimit.limiter import Verdict
from graph.services import Services
from graph.settings import Settings
from graph.sources.livescores import LiveScoreRepository
from graph.sources.snapshots import SnapshotSet, Sources


class OperationLoaders(Protocol):
    """What resolvers use of one operation's loaders; `graph.batching.Loaders` is the one.

    The values are typed where each loader is built (graph/batching.py), so the
    context depends on no schema type.
    """

    batches: Counter[str]
    match: SnapshotLoader[int, Any]
    prediction: SnapshotLoader[int, Any]
    odds: SnapshotLoader[int, Any]
    features: SnapshotLoader[int, Any]
    roi: SnapshotLoader[str, Any]
    feature_picks: dict[tuple[str, ...], frozenset[str]]
    plans: dict[str, str]
    live_score: BatchLoader[int, Any]

    def match_connection(
        self, info: Info, *, first: int | None, after: str | None, region: str
    ) -> Any:
        """A region's `matches` connection (graph.paging), for `Region.matches`."""
        ...


# Builds an operation's loaders over its pinned snapshot set.
LoaderFactory: TypeAlias = Callable[
    [SnapshotSet, Settings, LiveScoreRepository | None], OperationLoaders
]


@dataclass(frozen=True)
class OperationScope:
    """The snapshot set one operation pinned, and its own loaders."""

    data: SnapshotSet
    loaders: OperationLoaders


# WebSocket contexts live as long as the connection; each operation on it runs
# in its own task and pins its own scope here (see graph.extensions).
_operation_scope: ContextVar[OperationScope | None] = ContextVar("operation_scope", default=None)


@dataclass
class Context:
    """One GraphQL operation's view of the world.

    `data` is pinned when the operation starts, so every field of a response
    comes from one snapshot set; `loaders` are built for this operation only.
    An HTTP request pins its scope when its context is built; a WebSocket
    connection's context leaves `pinned` empty and every operation on it pins
    its own.
    """

    settings: Settings
    sources: Sources
    new_loaders: LoaderFactory
    pinned: OperationScope | None = None
    services: Services = field(default_factory=Services)
    auth_scope: str = "open"
    request: Any = None
    response: Any = None
    # False once a field backed by something other than snapshots resolves.
    cacheable: bool = True
    # Set by the WebSocket protocols from `connection_init`'s payload.
    connection_params: dict[str, Any] | None = None
    # Set by the view to stop an HTTP operation (time limit, client gone): see graph.execution.
    stop: OperationStop = field(default_factory=OperationStop)
    # A dry run (`X-Matchgraph-Cost-Only: 1`): price the operation, execute nothing
    # (graph/cost/analysis.py).
    cost_only: bool = False
    # The client's address as the API believes it (MATCHGRAPH_TRUSTED_PROXIES): whose
    # rate-limit budget an open service charges.
    client_address: str | None = None
    # The rate limiter's verdict on this (HTTP) operation, for its status and headers.
    rate_limit: Verdict | None = None

    def uncacheable(self) -> None:
        self.cacheable = False

    @property
    def scope(self) -> OperationScope:
        scope = _operation_scope.get() or self.pinned
        if scope is None:
            raise RuntimeError("no operation scope: the OperationScopes extension is missing")
        return scope

    @property
    def data(self) -> SnapshotSet:
        return self.scope.data

    @property
    def loaders(self) -> OperationLoaders:
        return self.scope.loaders

    async def enter_operation(self) -> Token[OperationScope | None] | None:
        """Pin a fresh scope for this operation unless the context has one (HTTP)."""
        if self.pinned is not None:
            return None
        scope = await new_scope(self.settings, self.sources, self.new_loaders, self.services)
        return _operation_scope.set(scope)

    def release_scope(self) -> None:
        """For a long-lived operation that reads no snapshot data (a push subscription):
        let go of the set it pinned, so refreshes can free it; `data` fails afterwards."""
        if self.pinned is None:
            _operation_scope.set(None)

    def exit_operation(self, token: Token[OperationScope | None] | None) -> None:
        if token is not None:
            _operation_scope.reset(token)


Info: TypeAlias = strawberry.Info[Context, None]


async def new_scope(
    settings: Settings, sources: Sources, new_loaders: LoaderFactory, services: Services
) -> OperationScope:
    """Pin the current snapshot set and build fresh loaders over it."""
    data = await sources.current()
    return OperationScope(data, new_loaders(data, settings, services.livescores))


async def build_context(
    settings: Settings,
    sources: Sources,
    *,
    new_loaders: LoaderFactory,
    services: Services,
    per_operation: bool = False,
    **fields: Any,
) -> Context:
    """A context; pinned now for one HTTP request, or per operation for a WebSocket."""
    pinned = None if per_operation else await new_scope(settings, sources, new_loaders, services)
    return Context(
        settings=settings,
        sources=sources,
        new_loaders=new_loaders,
        pinned=pinned,
        services=services,
        **fields,
    )
