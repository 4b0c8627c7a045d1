"""Sources are re-checked while serving: swaps are atomic, bad files never win."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests import datasets
from tests.fixtures.server import LiveServer, ServeFactory

RUNS = "query($f: Int!) { matches(first: $f) { edges { node { prediction { modelRunId } } } } }"
READY_TIMEOUT = 10.0


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _run_ids(api: LiveServer, first: int = 1000) -> set[str]:
    data = await api.data(RUNS, {"f": first})
    return {e["node"]["prediction"]["modelRunId"] for e in data["matches"]["edges"]}


async def test_replaced_file_is_served_without_restart(serve: ServeFactory, tmp_path: Path) -> None:
    frame = datasets.write_set(tmp_path, 300, run_id="run-a")
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    assert await _run_ids(api) == {"run-a"}
    datasets.write(
        tmp_path, datasets.PREDICTIONS, datasets.predictions(frame.index, run_id="run-b")
    )

    async def switched() -> bool:
        return await _run_ids(api) == {"run-b"}

    await _eventually(switched)


async def test_corrupt_replacement_keeps_last_good_data(
    serve: ServeFactory, tmp_path: Path
) -> None:
    datasets.write_set(tmp_path, 300, run_id="run-a")
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    (tmp_path / datasets.PREDICTIONS).write_bytes(b"PAR1 this is not parquet")

    async def reported() -> bool:
        async with api.client() as client:
            ready = (await client.get("/ready")).json()
        return any("predictions/predictions.parquet" in d for d in ready["degraded"])

    await _eventually(reported)
    assert await _run_ids(api) == {"run-a"}
    async with api.client() as client:
        ready = await client.get("/ready")
        health = (await client.get("/health")).json()
    assert ready.status_code == 200  # loaded once: still serving, but degraded
    assert "predictions/predictions.parquet" in ready.json()["degraded"][0]  # sources first
    assert health["status"] == "degraded"
    data = await api.data("{ health { status degraded } }")
    assert data["health"]["status"] == "degraded"


async def test_missing_required_column_keeps_last_good_data(
    serve: ServeFactory, tmp_path: Path
) -> None:
    frame = datasets.write_set(tmp_path, 300, run_id="run-a")
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    broken = datasets.predictions(frame.index, run_id="run-b").drop(columns=["proba_draw"])
    datasets.write(tmp_path, datasets.PREDICTIONS, broken)

    async def reported() -> bool:
        async with api.client() as client:
            degraded = (await client.get("/ready")).json()["degraded"]
        return any("proba_draw" in d for d in degraded)

    await _eventually(reported)
    assert await _run_ids(api) == {"run-a"}


async def test_a_request_in_flight_sees_one_version_only(
    serve: ServeFactory, tmp_path: Path
) -> None:
    frame = datasets.write_set(tmp_path, 5000, run_id="run-0")
    api = serve(data_dir=tmp_path, refresh_seconds=0.02, response_cache_mb=0)
    stop = asyncio.Event()
    versions_seen: set[str] = set()

    async def swap_forever() -> None:
        for i in range(1, 10_000):
            if stop.is_set():
                return
            run = datasets.predictions(frame.index, run_id=f"run-{i}")
            await asyncio.to_thread(datasets.write, tmp_path, datasets.PREDICTIONS, run)
            await asyncio.sleep(0.03)

    async def read_many() -> None:
        for _ in range(25):
            body = await api.graphql(RUNS, {"f": 5000})
            runs = {e["node"]["prediction"]["modelRunId"] for e in body["data"]["matches"]["edges"]}
            assert len(runs) == 1, f"one response mixed versions: {sorted(runs)}"
            versions_seen.add(body["extensions"]["dataVersion"])

    swapper = asyncio.create_task(swap_forever())
    try:
        await asyncio.gather(read_many(), read_many())
    finally:
        stop.set()
        await swapper
    assert len(versions_seen) > 1, "the files were swapped while requests ran"


async def test_ready_is_503_until_existing_sources_load(
    serve: ServeFactory, tmp_path: Path
) -> None:
    datasets.write_set(tmp_path, 50)
    (tmp_path / datasets.ODDS).write_bytes(b"garbage from the start")
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    async with api.client() as client:
        ready = await client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["missing"] == ["data-raw/fonbet_odds.parquet"]
    # the rest of the graph serves meanwhile; odds are simply absent
    data = await api.data(
        "{ matches(first: 1) { edges { node { odds { home } prediction { probaHome } } } } }"
    )
    node = data["matches"]["edges"][0]["node"]
    assert node["odds"] is None and node["prediction"] is not None
    datasets.write_set(tmp_path, 50)

    async def ready_now() -> bool:
        async with api.client() as client:
            return (await client.get("/ready")).status_code == 200

    await _eventually(ready_now)


async def test_missing_files_are_empty_not_errors(serve: ServeFactory, tmp_path: Path) -> None:
    api = serve(data_dir=tmp_path)
    async with api.client() as client:
        ready = await client.get("/ready")
    assert ready.status_code == 200
    assert all(not s["present"] for s in ready.json()["sources"])
    data = await api.data("{ matches { totalCount } regions { name } }")
    assert data == {"matches": {"totalCount": 0}, "regions": []}
