"""Storage over a local folder: `<root>/<bucket>/<key>`."""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from graph.sources.errors import ObjectNotFound
from graph.sources.storage import ObjectStat, Storage, check_bucket, check_key


class LocalStorage(Storage):
    """Files under `root`; writes go through a temp file and `os.replace`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / check_key(bucket, key)

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        path = self.path(bucket, key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(f"{bucket}/{key}") from exc

    async def put_bytes(self, bucket: str, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(_atomic_write, self.path(bucket, key), data)

    async def stat(self, bucket: str, key: str) -> ObjectStat | None:
        path = self.path(bucket, key)
        try:
            st = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return None if not path.is_file() else _object_stat(bucket, key, st)

    async def list(self, bucket: str, prefix: str = "") -> list[ObjectStat]:
        base = self.root / check_bucket(bucket)
        return await asyncio.to_thread(_walk, base, bucket, prefix)

    async def presigned_url(self, bucket: str, key: str, *, expires: int = 3600) -> str | None:
        self.path(bucket, key)  # validate only: local files are streamed by the API itself
        return None


def _object_stat(bucket: str, key: str, st: os.stat_result) -> ObjectStat:
    return ObjectStat(
        bucket=bucket,
        key=key,
        size=st.st_size,
        last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        etag=f"{st.st_mtime_ns:x}-{st.st_size:x}-{st.st_ino:x}",
    )


def _walk(base: Path, bucket: str, prefix: str) -> list[ObjectStat]:
    if not base.is_dir():
        return []
    found = []
    for path in base.rglob("*"):
        key = path.relative_to(base).as_posix()
        if path.is_file() and key.startswith(prefix) and ".tmp-" not in path.name:
            found.append(_object_stat(bucket, key, path.stat()))
    return sorted(found, key=lambda s: s.key)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
