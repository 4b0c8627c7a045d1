"""A bounded LRU of encoded GraphQL responses.

Keys name the operation (document, operation name, variables), the data
version it was computed on and the auth scope; a data refresh changes the
version, so stale entries are never served and age out of the LRU.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import orjson


def operation_key(query: str, operation_name: str | None, variables: Any, scope: str) -> str:
    """A digest of what determines a response, except the data version."""
    payload = orjson.dumps([query, operation_name, variables, scope], option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=20).hexdigest()


class ResponseCache:
    """Least-recently-used bytes, bounded by their total size."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._size = 0

    def get(self, key: str, version: str) -> bytes | None:
        body = self._entries.get((key, version))
        if body is not None:
            self._entries.move_to_end((key, version))
        return body

    def put(self, key: str, version: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        old = self._entries.pop((key, version), None)
        if old is not None:
            self._size -= len(old)
        self._entries[(key, version)] = body
        self._size += len(body)
        while self._size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted)
