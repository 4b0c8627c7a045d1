"""Storage against both backends: a local folder and a real S3 server (moto)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from graph.sources.errors import InvalidKey, ObjectNotFound
from graph.sources.local import LocalStorage
from graph.sources.s3 import S3Storage
from graph.sources.storage import Storage, split_source

BUCKET = "predictions"


def frame(rows: int = 3) -> pd.DataFrame:
    """A small pipeline-like frame (no index)."""
    return pd.DataFrame(
        {
            "homeTeamName": [f"Home {i}" for i in range(rows)],
            "proba_home": [0.1 * (i + 1) for i in range(rows)],
            "n_bets": list(range(rows)),
        }
    )


def indexed_frame(rows: int = 3) -> pd.DataFrame:
    """The same, indexed by match id as the pipeline's parquet files are."""
    return frame(rows).set_index(pd.Index([100 + i for i in range(rows)], name="match_id"))


async def test_bytes_round_trip(storage: Storage) -> None:
    data = bytes(range(256)) * 4
    await storage.put_bytes(BUCKET, "raw/blob.bin", data, content_type="application/octet-stream")
    assert await storage.get_bytes(BUCKET, "raw/blob.bin") == data


async def test_text_round_trip(storage: Storage) -> None:
    await storage.put_text("reports", "evidently/r.html", "<p>Überraschung ⚽</p>")
    assert await storage.get_text("reports", "evidently/r.html") == "<p>Überraschung ⚽</p>"


async def test_json_round_trip(storage: Storage) -> None:
    value = {"dataset_drift": True, "share_drifted": 0.25, "drifted_features": ["diff_a_w5"]}
    await storage.put_json("reports", "drift/latest.json", value)
    assert await storage.get_json("reports", "drift/latest.json") == value


async def test_parquet_round_trip_keeps_match_id_index(storage: Storage) -> None:
    await storage.put_dataframe(BUCKET, "predictions.parquet", indexed_frame())
    loaded = await storage.get_dataframe(BUCKET, "predictions.parquet")
    pd.testing.assert_frame_equal(loaded, indexed_frame())
    assert loaded.index.name == "match_id"


@pytest.mark.parametrize("key", ["analysis/roi.csv", "analysis/roi.json"])
async def test_csv_and_json_frames_round_trip(storage: Storage, key: str) -> None:
    await storage.put_dataframe(BUCKET, key, frame())
    pd.testing.assert_frame_equal(await storage.get_dataframe(BUCKET, key), frame())


async def test_stat_of_missing_object_is_none(storage: Storage) -> None:
    assert await storage.stat(BUCKET, "nothing.parquet") is None
    await storage.put(BUCKET, "other.csv", b"x")
    assert await storage.stat(BUCKET, "nothing.parquet") is None


async def test_stat_reports_size_and_aware_utc_time(storage: Storage) -> None:
    await storage.put(BUCKET, "a/b.csv", b"12345")
    stat = await storage.stat(BUCKET, "a/b.csv")
    assert stat is not None
    assert (stat.bucket, stat.key, stat.size) == (BUCKET, "a/b.csv", 5)
    assert stat.last_modified.utcoffset() == timedelta(0)


async def test_etag_changes_when_content_is_rewritten(storage: Storage) -> None:
    await storage.put(BUCKET, "f.csv", b"a,b\n1,2\n")
    before = await storage.stat(BUCKET, "f.csv")
    await storage.put(BUCKET, "f.csv", b"a,b\n3,4\n")
    after = await storage.stat(BUCKET, "f.csv")
    assert before is not None
    assert after is not None
    assert before.etag != after.etag


async def test_exists(storage: Storage) -> None:
    assert not await storage.exists(BUCKET, "f.csv")
    await storage.put(BUCKET, "f.csv", b"x")
    assert await storage.exists(BUCKET, "f.csv")
    assert not await storage.exists(BUCKET, "f")


async def test_list_by_prefix_is_sorted_and_scoped(storage: Storage) -> None:
    for key in ("evidently/b.html", "evidently/a.html", "evidently/sub/c.html", "drift/x.json"):
        await storage.put("reports", key, b"x")
    await storage.put(BUCKET, "evidently/elsewhere.html", b"x")
    listed = await storage.list("reports", "evidently/")
    assert [s.key for s in listed] == [
        "evidently/a.html",
        "evidently/b.html",
        "evidently/sub/c.html",
    ]
    assert {s.bucket for s in listed} == {"reports"}
    assert [s.key for s in await storage.list("reports")][-1] == "evidently/sub/c.html"
    assert await storage.list("reports", "nothing/") == []


async def test_list_of_a_bucket_never_written_is_empty(storage: Storage) -> None:
    assert await storage.list("data-raw") == []


async def test_get_bytes_of_missing_object_raises_object_not_found(storage: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.get_bytes(BUCKET, "missing.parquet")
    await storage.put(BUCKET, "present.parquet", b"x")
    with pytest.raises(ObjectNotFound):
        await storage.get_bytes(BUCKET, "missing.parquet")


Call = Callable[[Storage, str, str], Awaitable[Any]]
CALLS: dict[str, Call] = {
    "get_bytes": lambda s, b, k: s.get_bytes(b, k),
    "put_bytes": lambda s, b, k: s.put_bytes(b, k, b"x", content_type="text/plain"),
    "stat": lambda s, b, k: s.stat(b, k),
    "exists": lambda s, b, k: s.exists(b, k),
    "presigned_url": lambda s, b, k: s.presigned_url(b, k),
    "get_text": lambda s, b, k: s.get_text(b, k),
    "put_text": lambda s, b, k: s.put_text(b, k, "x"),
    "get_json": lambda s, b, k: s.get_json(b, k),
    "put_json": lambda s, b, k: s.put_json(b, k, {}),
    "get_dataframe": lambda s, b, k: s.get_dataframe(b, k),
    "put_dataframe": lambda s, b, k: s.put_dataframe(b, k, frame()),
}
BAD_ADDRESSES = [
    ("predictions", "../x.csv"),
    ("predictions", "/abs.csv"),
    ("predictions", "a//b.csv"),
    ("predictions", "a/./b.csv"),
    ("predictions", ""),
    ("unknown", "a.csv"),
    ("..", "predictions/a.csv"),
]


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize(("bucket", "key"), BAD_ADDRESSES)
async def test_invalid_address_raises_invalid_key(
    storage: Storage, call: Call, bucket: str, key: str
) -> None:
    with pytest.raises(InvalidKey):
        await call(storage, bucket, key)


@pytest.mark.parametrize("bucket", ["unknown", "..", "../predictions", "predictions/.."])
async def test_list_of_invalid_bucket_raises_invalid_key(storage: Storage, bucket: str) -> None:
    with pytest.raises(InvalidKey):
        await storage.list(bucket)


@pytest.mark.parametrize("bucket", ["unknown", ".."])
async def test_s3_refused_write_creates_no_bucket(
    s3_storage: S3Storage, s3_endpoint: str, bucket: str
) -> None:
    with pytest.raises(InvalidKey):
        await s3_storage.put(bucket, "a.csv", b"x")
    async with httpx.AsyncClient() as client:
        listing = await client.get(f"{s3_endpoint}/")
    assert "<Name>" not in listing.text


async def test_s3_presigned_url_downloads_the_object(s3_storage: S3Storage) -> None:
    await s3_storage.put("reports", "evidently/r.html", b"<html>report</html>")
    url = await s3_storage.presigned_url("reports", "evidently/r.html", expires=60)
    assert url is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"<html>report</html>"


async def test_local_presigned_url_is_none(local_storage: LocalStorage) -> None:
    await local_storage.put("reports", "evidently/r.html", b"x")
    assert await local_storage.presigned_url("reports", "evidently/r.html") is None


def test_split_source() -> None:
    assert split_source("predictions/a/b.csv") == ("predictions", "a/b.csv")


@pytest.mark.parametrize(
    "source", ["predictions", "predictions/", "nope/a.csv", "predictions/../x", "/predictions/a"]
)
def test_split_source_refuses_invalid_sources(source: str) -> None:
    with pytest.raises(InvalidKey):
        split_source(source)


def _folder(storage: LocalStorage, bucket: str) -> list[str]:
    return sorted(p.name for p in (storage.root / bucket).iterdir())


async def test_local_write_renames_a_hidden_temp_file_from_the_same_folder(
    local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def recording_replace(src: Any, dst: Any) -> None:
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    await local_storage.put(BUCKET, "a/f.csv", b"new")
    [(src, dst)] = renames
    assert dst == local_storage.path(BUCKET, "a/f.csv")
    assert src.parent == dst.parent
    assert src.name.startswith(".f.csv.tmp-")


async def test_local_failed_write_keeps_target_intact_and_leaves_no_temp(
    local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await local_storage.put(BUCKET, "f.csv", b"old")

    def interrupted(src: Any, dst: Any) -> None:
        raise OSError("interrupted before the rename")

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(OSError, match="interrupted"):
        await local_storage.put(BUCKET, "f.csv", b"new content")
    assert await local_storage.get_bytes(BUCKET, "f.csv") == b"old"
    assert _folder(local_storage, BUCKET) == ["f.csv"]


async def test_local_temp_file_left_by_a_crash_is_not_listed(local_storage: LocalStorage) -> None:
    await local_storage.put(BUCKET, "f.csv", b"old")
    (local_storage.root / BUCKET / ".f.csv.tmp-crashed").write_bytes(b"ne")
    assert [s.key for s in await local_storage.list(BUCKET)] == ["f.csv"]
    assert await local_storage.get_bytes(BUCKET, "f.csv") == b"old"
