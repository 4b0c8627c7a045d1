"""`matchgraph ingest-livescores` and `matchgraph ingest-fonbet`: ingest a feed here and now.

No worker needed: the CLI runs the same ingestion the jobs run. `--file`
uploads a local file under `data-raw/feeds/` first and ingests that.
Exit status: 0 done, 1 payload rejected (nothing written), 2 refused or
unavailable (bad source, database down).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from functools import partial
from pathlib import Path
from typing import Any

from graph.settings import Settings
from graph.sources.errors import DatabaseUnavailable, InvalidKey
from graph.sources.tables import FEEDS_SOURCE_PREFIX
from graph.taskqueue.results import IngestResult
from jobs.feeds.errors import SourceRefused

_COMMANDS = (
    ("ingest-livescores", "ingest a WhoScored livescores payload into the live-score table"),
    ("ingest-fonbet", "link a Fonbet events packet's 1X2 odds into fonbet_odds.parquet"),
)


def add_ingest_commands(commands: Any) -> None:
    """Register both commands on the `matchgraph` sub-command parser."""
    for name, help_text in _COMMANDS:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            "source",
            nargs="?",
            help=f"<bucket>/<key> in the storage, e.g. {FEEDS_SOURCE_PREFIX}x.json",
        )
        sub.add_argument(
            "--file", type=Path, help=f"upload this local file under {FEEDS_SOURCE_PREFIX} first"
        )
        sub.set_defaults(handler=partial(_ingest, name, sub))


def _ingest(command: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    source = _source(parser, args.source, args.file)
    try:
        result = asyncio.run(_run(command, Settings(), source, args.file))
    except (SourceRefused, InvalidKey, DatabaseUnavailable, OSError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    for message in result.messages:
        print(f"  {message}")
    return 1 if result.rejected else 0


def _source(parser: argparse.ArgumentParser, source: str | None, file: Path | None) -> str:
    if file is None:
        if source is None:
            parser.error("give SOURCE (<bucket>/<key>) or --file PATH")
        return source
    if source is None:
        return FEEDS_SOURCE_PREFIX + file.name
    if not source.startswith(FEEDS_SOURCE_PREFIX):
        parser.error(f"with --file, SOURCE must be under {FEEDS_SOURCE_PREFIX}")
    return source


async def _run(command: str, settings: Settings, source: str, file: Path | None) -> IngestResult:
    # Imported here: `matchgraph serve` should not pay for them at start-up.
    from graph.sources.factory import build_storage
    from graph.sources.livescores import open_live_scores
    from graph.sources.storage import split_source
    from graph.taskqueue.livescore_events import open_live_score_publisher
    from jobs.feeds.fonbet import ingest_fonbet_odds
    from jobs.feeds.whoscored import ingest_livescores

    async with build_storage(settings) as storage:
        if file is not None:
            bucket, key = split_source(source)
            await storage.put(bucket, key, await asyncio.to_thread(file.read_bytes))
        if command == "ingest-fonbet":
            return await ingest_fonbet_odds(storage=storage, source=source)
        # Announced like the worker's ingestions: the API's subscribers see the changes.
        async with (
            open_live_score_publisher(settings) as publisher,
            open_live_scores(settings, on_change=publisher) as repository,
        ):
            return await ingest_livescores(storage=storage, repository=repository, source=source)
