"""arq's internals, named here only (written against arq 0.28.0).

arq documents enqueuing, `Job` and `Worker` settings; the task contract and
the worker also rely on what it does not document, all of it here:

- its Redis keys: `job_key`, `result_key`, `in_progress_key` (arq's prefixes,
  which carry no namespace), and how long a job key lives (`JOB_KEY_TTL_MS`);
- its records: `serialize_job` (what `enqueue_job` writes, used to enqueue in
  one pipeline with our wake-up), `serialize_result` (what a worker stores), and
  the short keys of both records, named `FUNCTION`, `KWARGS`, `ENQUEUED_MS`,
  `SUCCESS`, `RESULT`, `STARTED_MS`, `FINISHED_MS`;
- its worker loop: `WorkerBase` routes the steps we replace (`main`,
  `_poll_iteration`, `start_jobs`, `run_job`, `record_health`) to overridable
  methods of ours (`run_loop`, `poll_once`, `start_ready_jobs`, `run_one_job`,
  `write_heartbeat`), each defaulting to arq's step, and wraps the private
  state we touch (`_last_health_check`, `_release_sem_dec_counter_on_complete`,
  `_jobs_started`, `_pool`).

`tests/test_library_adapters.py` checks each of these against the installed
arq; when it fails after an upgrade, fix this module, not its users.
"""

from __future__ import annotations

from arq.constants import (
    expires_extra_ms,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
)
from arq.jobs import serialize_job, serialize_result
from arq.worker import Worker

ARQ_VERSION = "0.28.0"  # the version this adapter was written against

__all__ = [
    "ARQ_VERSION",
    "ENQUEUED_MS",
    "FINISHED_MS",
    "FUNCTION",
    "JOB_KEY_TTL_MS",
    "KWARGS",
    "RESULT",
    "STARTED_MS",
    "SUCCESS",
    "WorkerBase",
    "in_progress_key",
    "job_key",
    "result_key",
    "serialize_job",
    "serialize_result",
]

# The short keys of arq's job record (job key) and result record (result key).
FUNCTION = "f"  # the job's function name (both records)
KWARGS = "k"  # its keyword arguments (both)
ENQUEUED_MS = "et"  # when it was enqueued, ms since the epoch (both)
SUCCESS = "s"  # whether it succeeded (result)
RESULT = "r"  # what it returned, or the exception it raised (result)
STARTED_MS = "st"  # when it started (result)
FINISHED_MS = "ft"  # when it finished (result)

# How long arq keeps a job key past the job's due time (what `enqueue_job` sets).
JOB_KEY_TTL_MS: int = expires_extra_ms


def job_key(job_id: str) -> str:
    return job_key_prefix + job_id


def result_key(job_id: str) -> str:
    return result_key_prefix + job_id


def in_progress_key(job_id: str) -> str:
    return in_progress_key_prefix + job_id


class WorkerBase(Worker):
    """arq's Worker with the loop steps we replace as overridable methods of ours."""

    # Our steps; each defaults to arq's own.
    async def run_loop(self) -> None:
        """The worker's run loop (arq's `main`)."""
        await Worker.main(self)

    async def poll_once(self) -> None:
        """One poll: start due jobs, drop finished tasks, heartbeat (arq's `_poll_iteration`)."""
        await Worker._poll_iteration(self)

    async def start_ready_jobs(self, job_ids: list[bytes]) -> None:
        """Take a slot for each job, mark it in progress, start its task (arq's `start_jobs`)."""
        await Worker.start_jobs(self, job_ids)

    async def run_one_job(self, job_id: str, score: int) -> None:
        """Run one job and store its result (arq's `run_job`)."""
        await Worker.run_job(self, job_id, score)

    async def write_heartbeat(self) -> None:
        """The health-check key, at most every `health_check_interval` (arq's `record_health`)."""
        await Worker.record_health(self)

    # arq's names, routed to ours.
    async def main(self) -> None:
        await self.run_loop()

    async def _poll_iteration(self) -> None:
        await self.poll_once()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        await self.start_ready_jobs(job_ids)

    async def run_job(self, job_id: str, score: int) -> None:
        await self.run_one_job(job_id, score)

    async def record_health(self) -> None:
        await self.write_heartbeat()

    # arq's private state.
    @property
    def last_heartbeat(self) -> float:
        """When the heartbeat was last written (`time.time()`; 0: write it at the next poll)."""
        return self._last_health_check

    @last_heartbeat.setter
    def last_heartbeat(self, value: float) -> None:
        self._last_health_check = value

    def release_slot(self) -> None:
        """Give back the slot (semaphore and job counter) a job took in `start_jobs`."""
        self._release_sem_dec_counter_on_complete()

    def jobs_started(self) -> int:
        """Jobs this worker has started (finished, retried, failed or running)."""
        return self._jobs_started()

    async def drop_pool(self) -> None:
        """Close the worker's Redis client without talking to Redis (arq's `close` does)."""
        if self._pool is not None:
            await self._pool.aclose(close_connection_pool=True)
            self._pool = None
