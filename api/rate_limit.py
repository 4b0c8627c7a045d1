"""Rate limits over HTTP: whose budget a request spends, 429, and the RateLimit headers.

The budget itself (GCRA in Redis) is graph/ratelimit; this module is what only
the API knows:

- Whose budget: the API key's name, or, when the service is open, the client
  address. `X-Forwarded-For` is believed only from peers listed in
  MATCHGRAPH_TRUSTED_PROXIES (addresses or CIDR networks): walking the hops from
  the right, the first one that is not a trusted proxy is the client. Anything
  else lets any client pick a fresh address (and budget) per request. uvicorn's
  own proxy-header handling is off (`matchgraph serve`, the test servers): it
  trusts 127.0.0.1 by default, and would hand us a forwarded address as the peer.
- The headers of draft-ietf-httpapi-ratelimit-headers-11 (May 2026): one policy
  named `cost`, `RateLimit-Policy: "cost";q=<per minute>;w=60` and
  `RateLimit: "cost";r=<units left>;t=<seconds until the budget is full>`. The
  draft's registered quota units (`qu`) are requests and bytes, none of which
  this is: the policy's name says what it counts. On a 429, `t` is the
  `Retry-After` value instead: the draft says Retry-After SHOULD NOT point
  earlier than the end of the effective window, and `r=0` holds until then.
  When the store failed (fail open) only the policy is sent: there is no
  current count to show.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
from collections.abc import AsyncIterator, Iterable

import orjson
from redis.asyncio import Redis
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.types import ExecutionResult

from api import metrics
from graph.context import Context
from graph.errors import Code
from graph.ratelimit.extension import rate_limited, retry_after_seconds
from graph.ratelimit.limiter import (
    ADDRESS_LABEL,
    WINDOW_SECONDS,
    Partition,
    RateLimiter,
    Verdict,
    partition_for,
)
from graph.settings import Settings

POLICY = "cost"
# A rate-limit call must not hold a request up: a Redis that does not answer within
# these is treated as down (fail open).
CONNECT_TIMEOUT_SECONDS = 0.5
COMMAND_TIMEOUT_SECONDS = 0.5

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@contextlib.asynccontextmanager
async def open_rate_limiter(settings: Settings) -> AsyncIterator[RateLimiter | None]:
    """The lifespan's limiter (None when MATCHGRAPH_RATE_LIMIT_COST_PER_MINUTE is 0), on a
    Redis client of its own with short timeouts; nothing here needs Redis to be up."""
    if settings.rate_limit_cost_per_minute == 0:
        yield None
        return
    redis = Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
    )
    labels = [*settings.named_api_keys] if settings.auth_enabled else [ADDRESS_LABEL]
    metrics.rate_limit_labels(labels)
    try:
        yield RateLimiter(
            redis,
            names=settings.redis_names,
            per_minute=settings.rate_limit_cost_per_minute,
            on_charge=metrics.rate_limit_charged,
            on_refusal=metrics.rate_limit_refused,
            on_store_error=metrics.RATE_LIMIT_STORE_ERRORS.inc,
        )
    finally:
        await redis.aclose(close_connection_pool=True)


class TrustedProxies:
    """MATCHGRAPH_TRUSTED_PROXIES, and the client address a connection comes from."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: list[IPNetwork] = [_network(e.strip()) for e in entries if e.strip()]

    def trusts(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: Iterable[str]) -> str | None:
        """The right-most hop that is not a trusted proxy (the peer itself unless it is one)."""
        believed = _parse(peer)
        if believed is None:
            return peer
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
        for hop in reversed(hops):
            if not self.trusts(believed):
                break
            parsed = _parse(hop)
            if parsed is None:  # garbage a proxy passed on: the last address we can believe
                break
            believed = parsed
        return str(believed)

    def of(self, connection: HTTPConnection) -> str | None:
        peer = connection.client.host if connection.client else None
        return self.client_address(peer, connection.headers.getlist("x-forwarded-for"))


def _network(entry: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise ValueError(
            f"MATCHGRAPH_TRUSTED_PROXIES: {entry!r} is neither an IP address nor a CIDR network"
        ) from None


def _parse(value: str | None) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value or "")
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:1.2.3.4 is 1.2.3.4
    return mapped or address


class HttpRateLimits:
    """What the GraphQL view does about budgets: charge, refuse with 429, add the headers."""

    def __init__(self, settings: Settings) -> None:
        self.auth_enabled = settings.auth_enabled
        self.proxies = TrustedProxies(settings.trusted_proxies)

    def client_address(self, connection: HTTPConnection) -> str | None:
        return self.proxies.of(connection)

    def budget_address(self, connection: HTTPConnection, limiter: RateLimiter | None) -> str | None:
        """The client address when it names a budget (a limiter on, no keys), else None:
        resolving forwarded addresses is no work for every request to do."""
        if limiter is None or self.auth_enabled:
            return None
        return self.client_address(connection)

    def partition(self, connection: HTTPConnection) -> Partition:
        return partition_for(
            auth_enabled=self.auth_enabled,
            auth_scope=getattr(connection.state, "auth_scope", "open"),
            address=self.client_address(connection),
        )

    async def charge_cache_hit(self, limiter: RateLimiter, connection: HTTPConnection) -> Verdict:
        """A response-cache hit costs 1: it executes nothing, but it is a request."""
        verdict = await limiter.charge(self.partition(connection), 1)
        connection.state.rate_limit = verdict
        return verdict

    async def charge_unexecuted(
        self, limiter: RateLimiter, context: Context, result: ExecutionResult
    ) -> ExecutionResult:
        """An operation that never reached execution (a document that does not parse or
        validate, a request refused before it) costs 1; over budget, it is refused too."""
        if context.rate_limit is not None:
            return result
        partition = partition_for(
            auth_enabled=self.auth_enabled,
            auth_scope=context.auth_scope,
            address=context.client_address,
        )
        context.rate_limit = await limiter.charge(partition, 1)
        if context.rate_limit.allowed:
            return result
        metrics.graphql_error(Code.RATE_LIMITED)
        return ExecutionResult(data=None, errors=[rate_limited(context.rate_limit)])

    async def add_headers(
        self, limiter: RateLimiter, connection: HTTPConnection, response: Response
    ) -> None:
        """The RateLimit headers (and Retry-After on a 429) of the request's verdict; a
        request refused before GraphQL (e.g. a malformed body) shows the budget as it is."""
        context = getattr(connection.state, "graphql_context", None)
        verdict = getattr(connection.state, "rate_limit", None) or getattr(
            context, "rate_limit", None
        )
        if not isinstance(verdict, Verdict):
            verdict = await limiter.peek(self.partition(connection))
        response.headers.update(headers(verdict))


def refused(context: Context | None) -> bool:
    return context is not None and context.rate_limit is not None and not context.rate_limit.allowed


def refusal_response(verdict: Verdict, media_type: str) -> Response:
    """The 429 of a request refused before the GraphQL view ran it (a cache hit)."""
    metrics.graphql_error(Code.RATE_LIMITED)
    body = orjson.dumps({"errors": [rate_limited(verdict).formatted]})
    return Response(body, 429, media_type=media_type)


def headers(verdict: Verdict) -> dict[str, str]:
    values = {"ratelimit-policy": f'"{POLICY}";q={verdict.limit};w={WINDOW_SECONDS}'}
    if not verdict.known:
        return values
    if verdict.allowed:
        reset = math.ceil(verdict.reset_after)
        values["ratelimit"] = f'"{POLICY}";r={verdict.remaining};t={reset}'
    else:
        seconds = retry_after_seconds(verdict)
        values["ratelimit"] = f'"{POLICY}";r=0;t={seconds}'
        values["retry-after"] = str(seconds)
    return values
