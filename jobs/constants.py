"""Every Redis key, channel and queue name the jobs side uses, in one place."""

from __future__ import annotations

SHORT_QUEUE = "matchgraph:queue:short"  # predictions, model info: seconds at most
LONG_QUEUE = "matchgraph:queue:long"  # batch inference, ingestion: minutes
QUEUES = {"short": SHORT_QUEUE, "long": LONG_QUEUE}

SHORT_JOBS = frozenset({"predict_match", "predict_features", "model_info"})
LONG_JOBS = frozenset({"batch_inference", "ingest_livescores", "ingest_fonbet_odds"})

TASK_EVENTS_CHANNEL = "matchgraph:task-events"  # one channel, the job id is in the message
WAKE_CHANNEL_PREFIX = "matchgraph:wake:"  # + queue name: "a job was enqueued"
TASK_STARTED_PREFIX = "matchgraph:task-started:"  # + job id: start time in ms
WORKER_HEALTH_PREFIX = "matchgraph:worker:"  # + queue + ":" + worker name

RESULT_TTL_SECONDS = 3600
WORKER_HEALTH_INTERVAL_SECONDS = 5
