"""`matchgraph ingest-livescores` and `ingest-fonbet`, run as a person would run them."""

# Fonbet's team names are Russian: Cyrillic letters that look Latin are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from graph.settings import Settings
from graph.sources.livescores import open_live_scores
from tests import datasets
from tests.feed_samples import FONBET, WHOSCORED

ROOT = Path(__file__).resolve().parents[1]


async def matchgraph(data_dir: Path, database_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MATCHGRAPH_", "SOCCER_"))}
    env.update(MATCHGRAPH_DATA_DIR=str(data_dir), MATCHGRAPH_DATABASE_URL=database_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_ingest_livescores_uploads_the_file_and_is_idempotent(
    tmp_path: Path, database_url: str
) -> None:
    code, out, _ = await matchgraph(
        tmp_path, database_url, "ingest-livescores", "--file", str(WHOSCORED)
    )
    assert code == 0 and out.splitlines()[0] == "inserted 57, updated 0, unchanged 0, rejected 0"
    uploaded = tmp_path / "data-raw" / "feeds" / WHOSCORED.name
    assert uploaded.read_bytes() == WHOSCORED.read_bytes()

    code, out, _ = await matchgraph(
        tmp_path, database_url, "ingest-livescores", f"data-raw/feeds/{WHOSCORED.name}"
    )
    assert code == 0 and out.startswith("inserted 0, updated 0, unchanged 57, rejected 0")
    async with open_live_scores(Settings(database_url=database_url)) as repository:
        assert len(await repository.month(2020, 12, limit=100)) == 57


async def test_rejected_and_refused_sources_exit_non_zero(
    tmp_path: Path, database_url: str
) -> None:
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(WHOSCORED.read_bytes()[:5000])
    code, out, _ = await matchgraph(
        tmp_path, database_url, "ingest-livescores", "--file", str(truncated)
    )
    assert code == 1 and "rejected 1" in out and "truncated" in out
    code, _, err = await matchgraph(tmp_path, database_url, "ingest-livescores", "../etc/passwd")
    assert code == 2 and "refused" in err and "Traceback" not in err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ingest_fonbet_links_odds(tmp_path: Path, database_url: str) -> None:
    catalog = datasets.catalog(3)
    catalog["homeTeamName"] = ["Спартак М", "Невроз", "Home"]
    catalog["awayTeamName"] = ["ЦСКА", "Мотала", "Away"]
    times = ["2019-08-19 16:55", "2019-08-19 17:25", "2025-01-01 00:00"]
    catalog["startTimeUtc"] = pd.to_datetime(times, utc=True)
    datasets.write(tmp_path, datasets.FEATURES, catalog)
    code, out, _ = await matchgraph(tmp_path, database_url, "ingest-fonbet", "--file", str(FONBET))
    assert code == 0
    assert out.splitlines()[0] == ("inserted 2, updated 0, unchanged 0, rejected 0, unlinked 5"), (
        out
    )
    assert (tmp_path / "data-raw" / "fonbet_odds.parquet").exists()
