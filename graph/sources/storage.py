"""One async interface over object storage: a local folder or S3/MinIO.

Objects are addressed as `<bucket>/<key>`, locally `DATA_DIR/<bucket>/<key>`.
Concrete backends implement five primitives; the typed helpers (JSON, text,
DataFrame) are written once here on top of them.
"""

from __future__ import annotations

import abc
import asyncio
import posixpath
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pandas as pd

from graph.sources.codecs import content_type, decode_frame, encode_frame
from graph.sources.errors import InvalidKey, ObjectNotFound
from graph.sources.tables import BUCKETS


@dataclass(frozen=True, slots=True)
class ObjectStat:
    """What a listing or a head request tells about one object."""

    bucket: str
    key: str
    size: int
    last_modified: datetime
    etag: str  # changes whenever the content may have changed (S3 ETag, local mtime+size)


def check_bucket(bucket: str) -> str:
    """Refuse any bucket but the pipeline's (and so any path posing as a bucket)."""
    if bucket not in BUCKETS:
        raise InvalidKey(f"unknown bucket {bucket!r} (known: {', '.join(sorted(BUCKETS))})")
    return bucket


def check_key(bucket: str, key: str) -> str:
    """Refuse unknown buckets and keys that could escape the bucket."""
    check_bucket(bucket)
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise InvalidKey(f"invalid key {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidKey(f"invalid key {key!r}")
    return posixpath.normpath(key)


def split_source(source: str) -> tuple[str, str]:
    """`<bucket>/<key>` -> (bucket, key), validated."""
    bucket, _, key = source.partition("/")
    return bucket, check_key(bucket, key)


class Storage(abc.ABC):
    """Async object storage. Use as an async context manager (opens clients once)."""

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:  # noqa: B027 - a hook, deliberately a no-op here
        """Release clients; the default backend holds none."""

    @abc.abstractmethod
    async def get_bytes(self, bucket: str, key: str) -> bytes:
        """The object's content; ObjectNotFound when absent."""

    @abc.abstractmethod
    async def put_bytes(self, bucket: str, key: str, data: bytes, *, content_type: str) -> None:
        """Write the object atomically (readers see the old or the new content, never half)."""

    @abc.abstractmethod
    async def stat(self, bucket: str, key: str) -> ObjectStat | None:
        """Metadata of the object, None when absent."""

    @abc.abstractmethod
    async def list(self, bucket: str, prefix: str = "") -> list[ObjectStat]:
        """Objects whose key starts with `prefix`, in key order."""

    @abc.abstractmethod
    async def presigned_url(self, bucket: str, key: str, *, expires: int = 3600) -> str | None:
        """A time-limited URL to the object, or None when the backend cannot sign one."""

    async def exists(self, bucket: str, key: str) -> bool:
        return await self.stat(bucket, key) is not None

    async def put(self, bucket: str, key: str, data: bytes) -> None:
        await self.put_bytes(bucket, key, data, content_type=content_type(key))

    async def get_text(self, bucket: str, key: str) -> str:
        return (await self.get_bytes(bucket, key)).decode("utf-8")

    async def put_text(self, bucket: str, key: str, text: str) -> None:
        await self.put(bucket, key, text.encode("utf-8"))

    async def get_json(self, bucket: str, key: str) -> Any:
        return orjson.loads(await self.get_bytes(bucket, key))

    async def put_json(self, bucket: str, key: str, value: Any) -> None:
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        await self.put(bucket, key, data)

    async def get_dataframe(self, bucket: str, key: str) -> pd.DataFrame:
        data = await self.get_bytes(bucket, key)
        return await asyncio.to_thread(decode_frame, key, data)

    async def put_dataframe(self, bucket: str, key: str, frame: pd.DataFrame) -> None:
        check_key(bucket, key)  # refuse before spending time encoding
        data = await asyncio.to_thread(encode_frame, key, frame)
        await self.put(bucket, key, data)


__all__ = [
    "BUCKETS",
    "ObjectNotFound",
    "ObjectStat",
    "Storage",
    "check_bucket",
    "check_key",
    "split_source",
]
