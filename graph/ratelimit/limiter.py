"""A budget of cost units per minute per partition (an API key, or a client address), in Redis.

Why GCRA (the generic cell rate algorithm): it keeps one number per partition,
the theoretical arrival time (TAT) of the budget's next unit, and decides a
charge of any size with one comparison. A token bucket needs two numbers
(tokens and their time); a fixed window lets a client spend two budgets around
a window's edge. Here the whole budget refills evenly over a minute: spending
it all at once is allowed (burst = one minute's budget), after which units come
back at `per_minute / 60` per second.

Why one Lua script: the read, the decision and the write must be atomic across
every API replica, and a request must not pay more than one Redis round trip
for it. The charges of concurrent requests share that round trip: they are sent
as one pipeline of EVALSHA per loop turn (graph/ratelimit/coalesce.py says why;
the script itself is sent again when a server answers NOSCRIPT). The clock is Redis's (`TIME`), so
replicas with skewed clocks still share one budget. Each key expires when its
budget would be full again: idle partitions vanish by themselves.

Redis down or slow: fail open. A rate limiter protects the service; refusing
every request because its own store failed would be the outage it exists to
prevent. The request passes unchecked (`Verdict.known` is False), the failure
is counted and logged at most once a minute, and Redis is left alone for
`PAUSE_SECONDS` so a dead server costs no request a connect timeout.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.ratelimit.coalesce import CoalescedScript
from graph.taskqueue.names import RedisNames

log = logging.getLogger("matchgraph.ratelimit")

WINDOW_SECONDS = 60  # the budget is per minute
PAUSE_SECONDS = 1.0  # after a store error, requests pass unchecked this long
LOG_EVERY_SECONDS = 60.0  # at most one store-error log line per this long
_US = 1_000_000

# KEYS[1]: the partition's TAT key. ARGV: emission interval (µs per cost unit), window (µs),
# cost (units, >= 0). Returns {allowed (1/0), how far the TAT is ahead of now after the
# call (µs), when this charge would fit (µs from now; 0 when allowed)}.
GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
local allow_at = new_tat - window
if allow_at > now then
  return {0, math.floor(tat - now), math.ceil(allow_at - now)}
end
if cost > 0 then  -- a peek (cost 0) writes nothing
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
             math.max(1, math.ceil((new_tat - now) / 1000)))
end
return {1, math.floor(new_tat - now), 0}
"""


@dataclass(frozen=True)
class Partition:
    """Whose budget: `subject` names it in Redis, `label` in metrics (never a key or address
    there: a key name, or `address` for every client address)."""

    subject: str
    label: str

    @classmethod
    def key(cls, name: str) -> Partition:
        return cls(f"key:{name}", name)

    @classmethod
    def address(cls, address: str) -> Partition:
        return cls(f"address:{address}", ADDRESS_LABEL)


ADDRESS_LABEL = "address"


@dataclass(frozen=True)
class Verdict:
    """One charge's outcome, and the budget after it (what the RateLimit headers show)."""

    allowed: bool
    limit: int  # cost units per minute
    charged: int  # units taken (0 when refused)
    remaining: int  # whole units left now
    reset_after: float  # seconds until the budget is full again
    retry_after: float  # seconds until this charge would fit (0 when allowed)
    known: bool = True  # False: the store failed and the request passed unchecked


def partition_for(*, auth_enabled: bool, auth_scope: str, address: str | None) -> Partition:
    """The key's budget when the service has keys; else the client address's (one shared
    `unknown` budget when no address is known)."""
    return Partition.key(auth_scope) if auth_enabled else Partition.address(address or "unknown")


def _ignore(*_: object) -> None:
    return None


class RateLimiter:
    """The budgets of one stack (Redis namespace): `charge` is all a request needs."""

    def __init__(
        self,
        redis: Redis,
        *,
        names: RedisNames,
        per_minute: int,
        on_charge: Callable[[str, int], None] = _ignore,
        on_refusal: Callable[[str], None] = _ignore,
        on_store_error: Callable[[], None] = _ignore,
    ) -> None:
        if per_minute < 1:
            raise ValueError("a rate limiter needs a budget of at least 1 unit per minute")
        self.redis = redis
        self.names = names
        self.per_minute = per_minute
        self._interval_us = WINDOW_SECONDS * _US / per_minute
        self._script = CoalescedScript(redis, GCRA_SCRIPT)
        self._on_charge, self._on_refusal, self._on_store_error = (
            on_charge,
            on_refusal,
            on_store_error,
        )
        self._paused_until = 0.0
        self._last_log = -math.inf
        self._unlogged = 0

    async def charge(self, partition: Partition, cost: int) -> Verdict:
        """Take `cost` units (at most one minute's budget: an operation priced over the
        whole budget runs on a full one and empties it); refused, nothing is taken."""
        cost = min(max(cost, 0), self.per_minute)
        if time.monotonic() < self._paused_until:
            return self._unknown()
        try:
            allowed, used_us, retry_us = await self._script(
                self.names.rate_limit_key(partition.subject),
                (self._interval_us, WINDOW_SECONDS * _US, cost),
            )
        except (RedisError, OSError) as error:
            self._store_failed(error)
            return self._unknown()
        verdict = self._verdict(bool(allowed), cost, int(used_us), int(retry_us))
        if verdict.allowed:
            if cost:
                self._on_charge(partition.label, cost)
        else:
            self._on_refusal(partition.label)
        return verdict

    async def peek(self, partition: Partition) -> Verdict:
        """The budget as it stands, taking nothing."""
        return await self.charge(partition, 0)

    def _verdict(self, allowed: bool, cost: int, used_us: int, retry_us: int) -> Verdict:
        left = (WINDOW_SECONDS * _US - used_us) / self._interval_us
        return Verdict(
            allowed=allowed,
            limit=self.per_minute,
            charged=cost if allowed else 0,
            remaining=min(self.per_minute, max(0, math.floor(left + 1e-9))),
            reset_after=used_us / _US,
            retry_after=retry_us / _US,
        )

    def _unknown(self) -> Verdict:
        return Verdict(
            allowed=True,
            limit=self.per_minute,
            charged=0,
            remaining=self.per_minute,
            reset_after=0.0,
            retry_after=0.0,
            known=False,
        )

    def _store_failed(self, error: BaseException) -> None:
        self._on_store_error()
        now = time.monotonic()
        self._paused_until = now + PAUSE_SECONDS
        self._unlogged += 1
        if now - self._last_log >= LOG_EVERY_SECONDS:
            log.warning(
                "rate-limit store unreachable (%s): %d failed charge(s) since the last "
                "report; requests pass unchecked, Redis is retried after %.0f s",
                error,
                self._unlogged,
                PAUSE_SECONDS,
            )
            self._last_log, self._unlogged = now, 0
