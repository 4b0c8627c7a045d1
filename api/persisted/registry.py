"""Automatic persisted queries' registrations: in Redis, with a small LRU in front.

Redis is what makes a registration on one replica a hit on every other; each
key (`RedisNames.persisted_query_prefix` + hash) lives `MATCHGRAPH_APQ_TTL_SECONDS`.
The Redis side is bounded in bytes as well as in time: one script, one round
trip, stores the document, notes its size and registration time, forgets what
expired and evicts the oldest registrations while the total is over
`budget_bytes` (a client registering many documents cannot fill Redis; a
document it evicts is registered again by the next client that needs it, at the
cost of one more round trip). A document over `max_document_bytes` is never
stored.

The LRU (`MATCHGRAPH_APQ_CACHE_SIZE` documents) spares Redis a read per hit. A
hash names exactly one document, so an entry never goes stale: it may outlive
its Redis key, which only means this replica still knows it.

Redis down is "not known" (the client sends the document, which executes),
never an error for the client: each failure is logged once per outage and
counted in `matchgraph_persisted_query_store_errors_total`.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Fails fast: a registry that waits on a dead Redis would stall every hashed request.
CONNECT_TIMEOUT_SECONDS = 0.5
COMMAND_TIMEOUT_SECONDS = 1.0

# KEYS: document key, index (zset hash -> registered at, ms), sizes (hash -> bytes),
# total bytes. ARGV: hash, document, ttl (s), now (ms), budget (bytes), document key prefix
# (the keys it evicts are named from it: one Redis, not a cluster).
_REGISTER = """
local key, index, sizes, total = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local hash, doc, ttl, now, budget, prefix =
  ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local function forget(member)
  local size = tonumber(redis.call('HGET', sizes, member) or '0')
  redis.call('HDEL', sizes, member)
  redis.call('ZREM', index, member)
  redis.call('DECRBY', total, size)
  redis.call('DEL', prefix .. member)
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now - ttl * 1000)) do
  forget(member)
end
if redis.call('HEXISTS', sizes, hash) == 1 then forget(hash) end
redis.call('SET', key, doc, 'EX', ttl)
-- scores strictly increase (registrations within one ms stay in order: oldest out first)
local newest = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')[2]
if newest and tonumber(newest) >= now then now = tonumber(newest) + 1 end
redis.call('ZADD', index, now, hash)
redis.call('HSET', sizes, hash, #doc)
redis.call('INCRBY', total, #doc)
while tonumber(redis.call('GET', total) or '0') > budget do
  local oldest = redis.call('ZRANGE', index, 0, 0)[1]
  if not oldest then break end
  forget(oldest)
end
return redis.call('EXISTS', key)
"""


class DocumentLRU:
    """At most `size` documents by hash, least recently used out first (0: none kept)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, str] = OrderedDict()

    def get(self, digest: str) -> str | None:
        document = self._entries.get(digest)
        if document is not None:
            self._entries.move_to_end(digest)
        return document

    def put(self, digest: str, document: str) -> None:
        if self.size <= 0:
            return
        self._entries[digest] = document
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __contains__(self, digest: str) -> bool:
        return digest in self._entries


class ApqRegistry:
    """Registered documents by SHA-256: `get` and `register`, shared through Redis."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        ttl_seconds: int,
        cache_size: int,
        max_document_bytes: int,
        budget_bytes: int,
        on_store_error: Callable[[], None] = lambda: None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.max_document_bytes = max_document_bytes
        self.budget_bytes = budget_bytes
        self.lru = DocumentLRU(cache_size)
        self._on_store_error = on_store_error
        self._failing = False
        self._register = redis.register_script(_REGISTER)

    @staticmethod
    def connect(url: str) -> Redis:
        """A client for `url` that gives up fast (no retries, short timeouts)."""
        redis: Redis = Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
        )
        return redis

    async def get(self, digest: str) -> str | None:
        """The document registered under `digest`, None when unknown or Redis is down."""
        document = self.lru.get(digest)
        if document is not None:
            return document
        try:
            raw = await self.redis.get(self.prefix + digest)
        except (RedisError, OSError) as exc:
            self._failed("read", exc)
            return None
        self._recovered()
        if raw is None:
            return None
        document = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        self.lru.put(digest, document)
        return document

    def knows(self, digest: str) -> bool:
        """Registered as far as this process remembers (no round trip)."""
        return digest in self.lru

    async def register(self, digest: str, document: str) -> bool:
        """Store a validated document under its SHA-256 (the caller checked both); False
        when it is over the size limit or Redis is down (then only this process knows it)."""
        size = len(document.encode("utf-8"))
        if size > self.max_document_bytes:
            return False
        self.lru.put(digest, document)
        keys = [self.prefix + digest, *(self.prefix + name for name in ("index", "sizes", "bytes"))]
        now_ms = int(time.time() * 1000)
        args: list[str | int] = [
            digest,
            document,
            self.ttl_seconds,
            now_ms,
            self.budget_bytes,
            self.prefix,
        ]
        try:
            stored = await self._register(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._failed("registration", exc)
            return False
        self._recovered()
        return bool(stored)

    def _failed(self, what: str, exc: BaseException) -> None:
        self._on_store_error()
        if not self._failing:
            self._failing = True
            log.warning(
                "persisted queries: Redis %s failed (%s); hashes unknown here are answered "
                "PERSISTED_QUERY_NOT_FOUND until it is back",
                what,
                exc,
            )

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.info("persisted queries: Redis is back")

    async def aclose(self) -> None:
        await self.redis.aclose(close_connection_pool=True)
