"""OpenMP threads of model calls: one for live predictions, every core for batch inference.

scikit-learn's tree models run their `predict_proba` under OpenMP, whose
thread count is a per-thread setting (`omp_set_num_threads` binds the calling
thread only; new threads start from the process default). A live prediction
is a few rows on the worker's event-loop thread, where a second OpenMP thread
only spins (2.7 ms of CPU per one-row call instead of 1.3); batch inference
runs in a worker thread (`asyncio.to_thread`) and should keep every core.

threadpoolctl can only limit a runtime that is already loaded: before the
models (and so scikit-learn's OpenMP runtime) are imported it finds nothing
to limit and silently does nothing. That is how commit 135fc0b halved live
throughput: it limited the loop thread before the models were loaded. So
`limit_live_threads` runs after loading and refuses to pretend when there is
nothing to limit, and `model_threads` reports what each thread really gets
(the worker's heartbeat carries both counts; `Query.workers` shows them).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from threadpoolctl import threadpool_info, threadpool_limits

log = logging.getLogger(__name__)


def openmp_threads() -> int | None:
    """OpenMP threads a parallel region started from the calling thread would use.

    None when no OpenMP runtime is loaded in this process.
    """
    counts = [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "openmp"]
    return max(counts) if counts else None


def limit_live_threads(threads: int) -> None:
    """Limit OpenMP on the calling thread (the worker's event loop) to `threads`.

    Call it after the models are loaded, on the thread that calls them; BLAS is
    left alone (its limit is process-wide, it would bind batch inference too,
    and the tree models do not use it).
    """
    if openmp_threads() is None:
        log.warning("no OpenMP runtime is loaded: live predictions' threads are not limited")
        return
    threadpool_limits(limits=threads, user_api="openmp")


@dataclass(frozen=True)
class ModelThreads:
    """OpenMP threads of a live prediction and of batch inference, as measured."""

    live: int | None
    batch: int | None


async def model_threads() -> ModelThreads:
    """Measure on this (the event loop's) thread and in a `to_thread` worker thread."""
    return ModelThreads(live=openmp_threads(), batch=await asyncio.to_thread(openmp_threads))
