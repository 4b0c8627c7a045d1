"""`matchgraph` command line: demo, serve, up, worker, ingest-*, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from api.ingest_commands import add_ingest_commands
from graph.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    code: int = args.handler(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="matchgraph", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="write the demo pipeline's files and models")
    demo.add_argument("--data-dir", type=Path, help="storage root (default MATCHGRAPH_DATA_DIR)")
    demo.add_argument("--matches", type=int, default=20_000, help="matches to generate")
    demo.add_argument("--seed", type=int, default=42, help="random seed (same seed, same data)")
    demo.set_defaults(handler=_demo)

    for name, help_text in (
        ("serve", "run the API under uvicorn"),
        ("up", "local all-in-one: demo data if missing, then the API"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--host", help="bind address (default MATCHGRAPH_HOST, 127.0.0.1)")
        sub.add_argument("--port", type=int, help="port (default MATCHGRAPH_PORT, 8000)")
        sub.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
        sub.set_defaults(handler=_serve if name == "serve" else _up)

    worker = commands.add_parser("worker", help="run an arq worker (models loaded once)")
    worker.add_argument(
        "--queues", default="short,long", help="queues to consume, CSV of short,long"
    )
    worker.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    worker.set_defaults(handler=_worker)

    batch = commands.add_parser("batch", help="predict every match with the champion now")
    batch.set_defaults(handler=_batch)

    add_ingest_commands(commands)

    export = commands.add_parser("export-schema", help="print the GraphQL SDL")
    export.add_argument("--output", type=Path, help="write to this file instead of stdout")
    export.set_defaults(handler=_export_schema)
    return parser


def _settings(data_dir: Path | None = None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


def _demo(args: argparse.Namespace) -> int:
    from jobs.demo.pipeline import run_demo

    settings = _settings(args.data_dir)
    summary = run_demo(settings, matches=args.matches, seed=args.seed, show_progress=True)
    print(summary)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api import serving

    with _metrics_directory(args.workers):
        settings = Settings()
        host, port = args.host or settings.host, args.port or settings.port
        # The app (in each worker) builds its own Settings: where it is served must
        # reach it, since the default MATCHGRAPH_PUBLIC_URL is built from it.
        os.environ["MATCHGRAPH_HOST"], os.environ["MATCHGRAPH_PORT"] = host, str(port)
        config = uvicorn.Config(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            log_level="info",
            ws="websockets-sansio",
            # Which X-Forwarded-For to believe is MATCHGRAPH_TRUSTED_PROXIES's call
            # (api/rate_limit.py); uvicorn's own would trust 127.0.0.1 by default.
            proxy_headers=False,
            # SIGTERM or Ctrl-C: the drain (api/drain.py, README "Graceful shutdown")
            # closes subscriptions with a reason and lets running requests finish, all
            # within MATCHGRAPH_DRAIN_SECONDS; then what is left is cut off.
            timeout_graceful_shutdown=settings.drain_seconds,  # type: ignore[arg-type]
        )
        serving.run(config)
    return 0


@contextlib.contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """Prepare prometheus-client's multi-process directory before any worker starts.

    PROMETHEUS_MULTIPROC_DIR set: created, or emptied of the files a previous
    run left. Unset with `--workers` > 1: a private temporary directory for
    this run (each scrape would otherwise see one worker's numbers). Workers
    read the variable when they import prometheus-client, so it is set here,
    before uvicorn spawns them. uvicorn has no child-exit hook: the files of a
    worker that dies stay, and `/metrics` drops their live gauges itself.
    """
    legacy = os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112 (prometheus-client's old name)
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or legacy
    if configured:
        removed = _empty_metrics_directory(Path(configured))
        logging.getLogger("matchgraph").info(
            "multi-process metrics in %s (%d stale files removed)", configured, removed
        )
        yield
        return
    if workers <= 1:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="matchgraph-prometheus-") as private:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = private
        logging.getLogger("matchgraph").info("multi-process metrics in %s", private)
        try:
            yield
        finally:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


# prometheus-client's files: counter_<pid>.db, gauge_livesum_<pid>.db, ...
_METRICS_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_\d+\.db")


def _empty_metrics_directory(path: Path) -> int:
    """Create `path`, or delete prometheus-client's files in it; nothing else is touched.

    Not via api.metrics: importing prometheus-client here would make this
    supervising process write metric files of its own.
    """
    path.mkdir(parents=True, exist_ok=True)
    removed = 0
    for file in path.iterdir():
        if _METRICS_FILE.fullmatch(file.name) and file.is_file():
            file.unlink()
            removed += 1
    return removed


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so `up` stops the worker and Redis it started.

    uvicorn catches SIGTERM, shuts down, then raises it again under the handler
    it found: with Python's default one the process died on the spot, skipping
    every `finally`, and the worker (and Redis) lived on as orphans.
    """

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def _up(args: argparse.Namespace) -> int:
    from api.local_stack import ensure_demo_data, local_redis, local_worker

    _exit_on_sigterm()
    settings = Settings()
    ensure_demo_data(settings)
    host, port = args.host or settings.host, args.port or settings.port
    with local_redis(settings), local_worker():
        print(f"GraphiQL: http://{host}:{port}/graphql")
        return _serve(args)


def _worker(args: argparse.Namespace) -> int:
    from graph.taskqueue.names import QUEUE_KINDS
    from jobs.worker import run_workers

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = sorted(set(queues) - set(QUEUE_KINDS))
    if unknown or not queues:
        print(f"unknown queue(s) {unknown}; choose from {sorted(QUEUE_KINDS)}", file=sys.stderr)
        return 2
    asyncio.run(run_workers(Settings(), queues, burst=args.burst))
    return 0


def _batch(args: argparse.Namespace) -> int:
    from jobs.batch import run_batch
    from jobs.resources import build_resources

    async def run() -> dict[str, object]:
        resources = build_resources(Settings())
        try:
            return await run_batch(resources)
        finally:
            await resources.close()

    print(asyncio.run(run()))
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from graph.schema import export_sdl

    sdl = export_sdl()
    if args.output:
        args.output.write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
