"""arq-default: what a first arq port of live predictions looks like, worker and client.

    python -m bench.baselines.arq_default      # the worker (env: MATCHGRAPH_*, MLFLOW_*)

The worker is a plain arq `Worker` at its defaults (poll_delay 0.5 s,
max_jobs 10, no pub/sub, no hooks) running our short-queue job functions on
the same `WorkerResources` `matchgraph worker` builds (models loaded once,
snapshots warmed before the first job), with our JSON serializer (our jobs
only speak JSON). Same single-threaded BLAS/OpenMP setting and the same INFO
logging as `matchgraph worker`, so the only difference is how jobs are found
and how results are awaited.

The client side (`open_pool`, `predict`) enqueues with arq's own
`enqueue_job` and awaits `Job.result()` at its default poll_delay (0.5 s).
The harness runs this worker on its own Redis database, so it never takes
our worker's jobs (nor ours its).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker

from graph.taskqueue.names import RedisNames
from graph.taskqueue.serializer import dumps, loads

# The baseline runs alone on its own database: it keeps our default namespace's queue name.
SHORT_QUEUE = RedisNames().short_queue
HEALTH_KEY = SHORT_QUEUE + ":health-check"  # arq's default health-check key for the queue
STAGE = "champion"


async def open_pool(redis_url: str) -> ArqRedis:
    """arq's own client: `create_pool` with our serializer."""
    return await create_pool(
        RedisSettings.from_dsn(redis_url),
        job_serializer=dumps,
        job_deserializer=loads,
        default_queue_name=SHORT_QUEUE,
    )


async def predict(pool: ArqRedis, match_id: int) -> Any:
    """Enqueue one prediction and wait for it with `Job.result()` at its defaults."""
    job = await pool.enqueue_job(
        "predict_match", match_id=match_id, stage=STAGE, _queue_name=SHORT_QUEUE
    )
    if job is None:
        raise RuntimeError("arq refused the job (duplicate id)")
    return await job.result()


async def run_worker() -> None:
    from graph.settings import Settings
    from jobs.predict import model_info, predict_features, predict_match
    from jobs.resources import build_resources
    from jobs.threads import limit_live_threads

    settings = Settings()
    # Same job code and model threads as `run_workers`: the ratio measures arq's transport.
    resources = await asyncio.to_thread(build_resources, settings)
    limit_live_threads(settings.worker_model_threads)  # after loading: see jobs.threads
    await resources.sources.refresh()  # as run_workers: the first job pays no load
    worker = Worker(
        functions=[predict_match, predict_features, model_info],
        queue_name=SHORT_QUEUE,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        handle_signals=False,
        ctx={"resources": resources},
        job_serializer=dumps,
        job_deserializer=loads,
    )
    run = asyncio.create_task(worker.async_run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, run.cancel)
    try:
        await run
    except asyncio.CancelledError:
        pass
    finally:
        await worker.close()
        await resources.close()


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(run_worker())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
