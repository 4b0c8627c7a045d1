"""Every Redis key, channel and queue name the API and the worker use, in one place.

Each name we choose carries a namespace (`RedisNames`, built from
`Settings.redis_names`): pub/sub channels are global to a Redis server, not
per database, so two stacks on different databases of one Redis (or on one
database) are kept apart only by their names. arq's own keys (`arq:job:`,
`arq:result:`, `arq:in-progress:`, `arq:retry:`) carry no namespace; they are
per database like every key, and keyed by job ids that are fresh uuid4s.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "matchgraph"
# No SCAN glob characters (`*?[]\`) or blanks: the heartbeat prefix is scanned literally.
NAMESPACE_PATTERN = r"^[A-Za-z0-9_.\-]+(:[A-Za-z0-9_.\-]+)*$"

QUEUE_KINDS = ("short", "long")  # short: predictions, model info (seconds); long: minutes
SHORT_JOBS = frozenset({"predict_match", "predict_features", "model_info"})
LONG_JOBS = frozenset({"batch_inference", "ingest_livescores", "ingest_fonbet_odds"})

RESULT_TTL_SECONDS = 3600
WORKER_HEALTH_INTERVAL_SECONDS = 5


def default_namespace(db: int) -> str:
    """`matchgraph` on database 0, `matchgraph:db<N>` on database N."""
    return DEFAULT_NAMESPACE if db == 0 else f"{DEFAULT_NAMESPACE}:db{db}"


@dataclass(frozen=True)
class RedisNames:
    """The queues, channels and keys of one namespace (`matchgraph` gives the historic names)."""

    namespace: str = DEFAULT_NAMESPACE

    @property
    def short_queue(self) -> str:
        return f"{self.namespace}:queue:short"

    @property
    def long_queue(self) -> str:
        return f"{self.namespace}:queue:long"

    @property
    def queues(self) -> dict[str, str]:
        """Queue name by kind (`short`, `long`)."""
        return {"short": self.short_queue, "long": self.long_queue}

    def queue_for(self, job: str) -> str:
        return self.long_queue if job in LONG_JOBS else self.short_queue

    @property
    def task_events_channel(self) -> str:
        """One channel for every task's state changes; the job id is in the message."""
        return f"{self.namespace}:task-events"

    @property
    def live_scores_channel(self) -> str:
        """Live-score rows as each ingestion commits them (`graph.taskqueue.livescore_events`)."""
        return f"{self.namespace}:live-scores"

    def wake_channel(self, queue: str) -> str:
        """Published with each enqueue on `queue` (a full queue name): "a job was enqueued"."""
        return f"{self.namespace}:wake:{queue}"

    def task_started_key(self, job_id: str) -> str:
        """A job's start time in ms."""
        return f"{self.namespace}:task-started:{job_id}"

    @property
    def worker_health_prefix(self) -> str:
        """+ queue + ":" + worker name: each worker's heartbeat."""
        return f"{self.namespace}:worker:"

    def rate_limit_key(self, subject: str) -> str:
        """One rate-limit budget's theoretical arrival time (graph/ratelimit), shared by
        every API replica; `subject` is `key:<key name>` or `address:<client address>`."""
        return f"{self.namespace}:rate-limit:{subject}"

    @property
    def persisted_query_prefix(self) -> str:
        """+ a document's sha256 (hex): one automatic persisted query's document
        (api/persisted), shared by every API replica; `index`, `sizes` and `bytes` after
        the prefix are the keys that bound their total."""
        return f"{self.namespace}:apq:"
