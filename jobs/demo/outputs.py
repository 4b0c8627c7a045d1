"""How the demo's files are written, each where the data contract (tables) puts it."""

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
from graph.sources.tables import SourceSpec
from jobs.feeds.catalog import fill_livescores_from_catalog

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Output:
    """One object to write: a table (format by extension), a JSON value or text."""

    bucket: str
    key: str
    content: pd.DataFrame | dict[str, Any] | str

    @classmethod
    def of(cls, spec: SourceSpec[Any, Any], content: pd.DataFrame | dict[str, Any]) -> Output:
        """The source file `spec` declares, holding `content`."""
        return cls(spec.bucket, spec.key, content)


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


def fill_live_scores(settings: Settings, catalog: pd.DataFrame) -> int:
    """The live-score table gets a row per finished demo match (0 when the database is down)."""
    return _run(_fill(settings, catalog))


async def _fill(settings: Settings, catalog: pd.DataFrame) -> int:
    async with open_live_scores(settings) as repository:
        try:
            result = await fill_livescores_from_catalog(repository, catalog)
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
