"""The process-wide services resolvers and HTTP routes use, typed (built in the lifespan)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graph.health import HealthCheck
from graph.ratelimit.limiter import RateLimiter
from graph.sources.livescores import LiveScoreRepository
from graph.taskqueue.cache import ModelInfoCache
from graph.taskqueue.client import TaskClient
from graph.taskqueue.livescore_feed import LiveScoreFeed


@dataclass(frozen=True)
class Services:
    """What the API's lifespan opened; each is None (or empty) when it runs without it."""

    tasks: TaskClient | None = None  # the task queue (Redis)
    model_info: ModelInfoCache | None = None  # model info per stage, cached for its TTL
    livescores: LiveScoreRepository | None = None  # the live-score database
    live_score_feed: LiveScoreFeed | None = None  # live-score changes pushed over Redis
    # Cost budgets per key or client address (Redis); None: no rate limit.
    rate_limiter: RateLimiter | None = None
    # Dependencies with a `problems()` method; each adds to /ready's and health's `degraded`.
    health_checks: Sequence[HealthCheck] = ()
