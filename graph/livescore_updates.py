"""`Subscription.liveScoreUpdates`: live scores pushed as ingestion writes them.

The current score of each requested match first, then every change
(`graph.taskqueue.livescore_feed`: one Redis subscription per process, whatever
the number of subscribers). An outage of Redis or the database is one result
with a SERVICE_UNAVAILABLE error; the subscription stays open and, once both
are back, sends the current scores of its matches again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from graph.adapters.strawberry import error_event
from graph.context import Info
from graph.errors import bad_input, unavailable
from graph.livescores import LiveScore, live_score_of
from graph.taskqueue.livescore_feed import NOT_CONFIGURED, FeedUnavailable

MAX_MATCH_IDS = 1000

LIVE_SCORE_UPDATES_DESCRIPTION = (
    "Live scores of `matchIds` as ingestion writes them: first the current score of each "
    "match that has one, then each change. While Redis or the live-score database is down, "
    "one result carries a SERVICE_UNAVAILABLE error (data null) and the subscription stays "
    "open; when both are back, the current scores are sent again, so nothing is missed. "
    "Never completes."
)
MATCH_IDS_DESCRIPTION = (
    f"The matches to follow: 1 to {MAX_MATCH_IDS} ids (duplicates count); unknown ids are "
    "followed too (a feed may report them later)."
)


def check_match_ids(match_ids: list[int]) -> None:
    if not match_ids:
        raise bad_input("`matchIds` must name at least one match")
    if len(match_ids) > MAX_MATCH_IDS:
        raise bad_input(
            f"`matchIds` may name at most {MAX_MATCH_IDS} matches, got {len(match_ids)}"
        )


async def follow_live_scores(info: Info, match_ids: list[int]) -> AsyncGenerator[LiveScore, None]:
    check_match_ids(match_ids)
    feed = info.context.services.live_score_feed
    if feed is None:
        raise unavailable(NOT_CONFIGURED)
    info.context.release_scope()  # long-lived: it reads no snapshot data
    async for item in feed.follow(match_ids):
        if isinstance(item, FeedUnavailable):
            yield error_event(unavailable(item.reason))
        else:
            yield live_score_of(item)
