"""`python -m graph.sources.migrations upgrade|current|downgrade REVISION`."""

from __future__ import annotations

import argparse
import asyncio
import logging

from graph.settings import Settings
from graph.sources import migrations
from graph.sources.database import create_engine_for


async def _main(action: str, revision: str) -> None:
    engine = await create_engine_for(Settings())
    try:
        if action == "upgrade":
            await migrations.upgrade(engine, revision)
        elif action == "downgrade":
            await migrations.downgrade(engine, revision)
        print(f"live-score database at revision {await migrations.current(engine) or 'base'}")
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m graph.sources.migrations")
    parser.add_argument("action", choices=("upgrade", "downgrade", "current"))
    parser.add_argument("revision", nargs="?", default="head", help="target (default head)")
    args = parser.parse_args()
    if args.action == "downgrade" and args.revision == "head":
        parser.error("downgrade needs a target revision, e.g. `base`")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_main(args.action, args.revision))


if __name__ == "__main__":
    main()
