"""The typed per-operation context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import strawberry

from graph.settings import Settings
from graph.sources.snapshots import SnapshotSet, Sources

if TYPE_CHECKING:
    from graph.batching import Loaders


@dataclass
class Context:
    """One GraphQL operation's view of the world.

    `data` is pinned when the operation starts, so every field of a response
    comes from one snapshot set; `loaders` are built for this operation only.
    """

    settings: Settings
    sources: Sources
    data: SnapshotSet
    loaders: Loaders
    auth_scope: str = "open"
    request: Any = None
    response: Any = None
    # False once a field backed by something other than snapshots resolves.
    cacheable: bool = True
    # Set by the WebSocket protocols from `connection_init`'s payload.
    connection_params: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def uncacheable(self) -> None:
        self.cacheable = False


Info: TypeAlias = strawberry.Info[Context, None]


async def build_context(
    settings: Settings, sources: Sources, *, auth_scope: str = "open", **transport: Any
) -> Context:
    """Pin the current snapshot set and build fresh loaders for one operation."""
    from graph.batching import Loaders

    data = await sources.current()
    return Context(
        settings=settings,
        sources=sources,
        data=data,
        loaders=Loaders(data, settings),
        auth_scope=auth_scope,
        **transport,
    )
