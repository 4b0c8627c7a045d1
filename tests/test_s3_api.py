"""The API over S3 storage: a real S3-speaking server on loopback through aiobotocore."""

from __future__ import annotations

import asyncio
import time

from graph.sources.s3 import S3Storage
from tests import datasets
from tests.fixtures.server import ServeFactory

RUNS = """{ matches(first: 500) {
  totalCount edges { node { prediction { modelRunId } odds { home } } } } }"""


async def _upload(storage: S3Storage, n: int, run_id: str) -> None:
    frame = datasets.catalog(n)
    await storage.put_dataframe("predictions", "match_features.parquet", frame)
    predictions = datasets.predictions(frame.index, run_id=run_id)
    await storage.put_dataframe("predictions", "predictions.parquet", predictions)
    odds = frame[[]].assign(odd_home=1.9, odd_draw=3.2, odd_away=4.1)
    await storage.put_dataframe("data-raw", "fonbet_odds.parquet", odds)


async def test_the_graph_serves_and_refreshes_from_s3(
    serve: ServeFactory, s3_storage: S3Storage, s3_endpoint: str
) -> None:
    await _upload(s3_storage, 400, "run-a")
    api = serve(
        storage="s3",
        minio_endpoint_url=s3_endpoint,
        minio_access_key="test",
        minio_secret_key="test",
        refresh_seconds=0.2,
    )
    page = (await api.data(RUNS))["matches"]
    assert page["totalCount"] == 400
    assert {e["node"]["prediction"]["modelRunId"] for e in page["edges"]} == {"run-a"}
    assert {e["node"]["odds"]["home"] for e in page["edges"]} == {1.9}
    await _upload(s3_storage, 400, "run-b")
    deadline = time.monotonic() + 10
    while True:
        page = (await api.data(RUNS))["matches"]
        if {e["node"]["prediction"]["modelRunId"] for e in page["edges"]} == {"run-b"}:
            break
        assert time.monotonic() < deadline, "the new S3 object was never served"
        await asyncio.sleep(0.1)
