"""`Subscription.dataUpdated`: the snapshot set this process serves changed.

Each API process refreshes its own sources (`MATCHGRAPH_REFRESH_SECONDS`) and
tells its own subscribers when a refresh swaps in a new set; a re-check that
finds nothing new tells nobody. No Redis involved.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from graph.context import Info
from graph.sources.changes import SnapshotChange


@strawberry.type(
    description="A snapshot set this API process serves: the first event of `dataUpdated` "
    "is the set in service when the subscription began, each later one a change."
)
class DataUpdate:
    data_version: str = strawberry.field(
        description="The data version now in service: what responses carry in "
        "`extensions.dataVersion` (compare it with the one of your last query)."
    )
    changed: list[str] = strawberry.field(
        description="The sources that differ from the set before, by name as /ready lists "
        "them (`catalog`, `predictions`, `odds`, `roi`, `drift`); empty on the first event."
    )
    at: datetime = strawberry.field(description="When this process put the set into service.")


DATA_UPDATED_DESCRIPTION = (
    "The data version in service now (`changed` empty), then one event each time a "
    "refresh puts a new snapshot set into service (a re-check that finds nothing new sends "
    "nothing). Re-query when `dataVersion` differs from what your last response carried "
    "in `extensions.dataVersion`: the first event closes the gap between that query and "
    "this subscription. Each API process tells of its own refreshes; never completes."
)


def data_update_of(change: SnapshotChange) -> DataUpdate:
    return DataUpdate(data_version=change.version, changed=list(change.changed), at=change.at)


async def follow_data_updates(info: Info) -> AsyncGenerator[DataUpdate, None]:
    sources = info.context.sources
    info.context.release_scope()  # hours long: it must not keep an old snapshot set alive
    async for change in sources.changes.follow():
        yield data_update_of(change)
