"""Where each demo file goes (DATA.md's bucket/key contract) and how it is written."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from graph.settings import Settings
from graph.sources.errors import DatabaseUnavailable
from graph.sources.factory import build_storage
from graph.sources.livescores import open_live_scores
from jobs.feeds.catalogue import fill_livescores_from_catalogue

CATALOGUE = ("predictions", "match_features.parquet")
PREDICTIONS = ("predictions", "predictions.parquet")
ODDS = ("data-raw", "fonbet_odds.parquet")
ROI = ("predictions", "analysis/live_betting/roi_by_region.csv")
DRIFT = ("reports", "drift/latest.json")
REPORTS_BUCKET, REPORTS_PREFIX = "reports", "evidently/"

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Output:
    """One object to write: a table (format by extension), a JSON value or text."""

    bucket: str
    key: str
    content: pd.DataFrame | dict[str, Any] | str


def write_outputs(
    settings: Settings,
    outputs: Sequence[Output],
    wrap: Callable[[Iterable[Output]], Iterable[Output]] | None = None,
) -> None:
    """Write every output through one storage client (local folder or S3)."""
    _run(_write(settings, outputs, wrap or iter))


async def _write(
    settings: Settings,
    outputs: Sequence[Output],
    wrap: Callable[[Iterable[Output]], Iterable[Output]],
) -> None:
    async with build_storage(settings) as storage:
        for out in wrap(outputs):
            if isinstance(out.content, pd.DataFrame):
                await storage.put_dataframe(out.bucket, out.key, out.content)
            elif isinstance(out.content, str):
                await storage.put_text(out.bucket, out.key, out.content)
            else:
                await storage.put_json(out.bucket, out.key, out.content)


def fill_live_scores(settings: Settings, catalogue: pd.DataFrame) -> int:
    """The live-score table gets a row per finished demo match (0 when the database is down)."""
    return _run(_fill(settings, catalogue))


async def _fill(settings: Settings, catalogue: pd.DataFrame) -> int:
    async with open_live_scores(settings) as repository:
        try:
            result = await fill_livescores_from_catalogue(repository, catalogue)
        except DatabaseUnavailable as exc:
            log.warning("live scores not filled: %s", exc)
            return 0
    return result.inserted + result.updated + result.unchanged


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also when called from a thread that already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
