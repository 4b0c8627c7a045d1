"""The typed per-operation context every resolver receives."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import strawberry

from graph.execution import OperationStop
from graph.settings import Settings
from graph.sources.snapshots import SnapshotSet, Sources

if TYPE_CHECKING:
    from graph.batching import Loaders
    from graph.health import HealthCheck
    from graph.live import ModelInfoCache
    from graph.sources.livescores import LiveScoreRepository
    from jobs.client import TaskClient


@dataclass(frozen=True)
class OperationScope:
    """The snapshot set one operation pinned, and its own loaders."""

    data: SnapshotSet
    loaders: Loaders


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
    pinned: OperationScope | None = None
    tasks: TaskClient | None = None
    model_info: ModelInfoCache | None = None
    livescores: LiveScoreRepository | None = None  # the live-score database, when configured
    health_checks: Sequence[HealthCheck] = ()
    auth_scope: str = "open"
    request: Any = None
    response: Any = None
    # False once a field backed by something other than snapshots resolves.
    cacheable: bool = True
    # Set by the WebSocket protocols from `connection_init`'s payload.
    connection_params: dict[str, Any] | None = None
    # Set by the view to stop an HTTP operation (time limit, client gone): see graph.execution.
    stop: OperationStop = field(default_factory=OperationStop)

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
    def loaders(self) -> Loaders:
        return self.scope.loaders

    async def enter_operation(self) -> Token[OperationScope | None] | None:
        """Pin a fresh scope for this operation unless the context has one (HTTP)."""
        if self.pinned is not None:
            return None
        scope = await new_scope(self.settings, self.sources, self.livescores)
        return _operation_scope.set(scope)

    def exit_operation(self, token: Token[OperationScope | None] | None) -> None:
        if token is not None:
            _operation_scope.reset(token)


Info: TypeAlias = strawberry.Info[Context, None]


async def new_scope(
    settings: Settings, sources: Sources, livescores: LiveScoreRepository | None = None
) -> OperationScope:
    """Pin the current snapshot set and build fresh loaders over it."""
    from graph.batching import Loaders

    data = await sources.current()
    return OperationScope(data, Loaders(data, settings, livescores))


async def build_context(
    settings: Settings,
    sources: Sources,
    *,
    per_operation: bool = False,
    **fields: Any,
) -> Context:
    """A context; pinned now for one HTTP request, or per operation for a WebSocket."""
    livescores = fields.get("livescores")
    pinned = None if per_operation else await new_scope(settings, sources, livescores)
    return Context(settings=settings, sources=sources, pinned=pinned, **fields)
