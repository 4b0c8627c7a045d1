"""The API's Prometheus metrics: the names deploy/README.md lists, and their exposition.

One process: the metrics live in this module's `REGISTRY` (with the process
collectors) and a scrape renders it.

Several processes (`uvicorn --workers N`): prometheus-client picks its value
class from `PROMETHEUS_MULTIPROC_DIR` when it is first imported, so the
variable must be in the environment before the process starts (the CLI,
compose and the k8s manifests set it). Every metric then writes to mmap files
in that directory and a scrape merges them through a fresh
`MultiProcessCollector`. Custom collectors do not work there: values read at
scrape time (sources, queue, workers) are set on `livemostrecent` gauges just
before the output is generated, so the freshest reading wins whichever
worker answered the scrape.
"""

from __future__ import annotations

import glob
import os
import platform
import re
import threading
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from graph.errors import Code
from graph.health import VERSION
from graph.settings import Settings
from graph.sources.tables import ALL_TABLES
from graph.taskqueue.names import LONG_JOBS, SHORT_JOBS

# Estimated operation costs (graph/cost): a page of 50 cards is about 200, the README's first
# query 132, 5000 cards 20,001; the default limit is 200,000.
COST_BUCKETS = (1, 10, 100, 1_000, 10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 10_000_000)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess_dir() -> str | None:
    """The shared directory when prometheus-client runs in multi-process mode, else None."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    legacy = os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112 (prometheus-client's old name)
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or legacy


def _prepare_directory() -> None:
    # The value class opens its files on the first metric below: the directory must exist.
    # It is never emptied here: other live workers write to it (the CLI empties it at start).
    path = multiprocess_dir()
    if path:
        os.makedirs(path, exist_ok=True)


_prepare_directory()
disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series: multi-process mode has none either
REGISTRY = CollectorRegistry(auto_describe=True)
if multiprocess_dir() is None:  # per-process facts mean nothing summed over workers
    for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        REGISTRY.register(_collector)

REQUESTS = Counter(
    "matchgraph_requests_total",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_DURATION = Histogram(
    "matchgraph_request_duration_seconds",
    "HTTP request latency, until the response is sent.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
REQUESTS_IN_PROGRESS = Gauge(
    "matchgraph_requests_in_progress",
    "HTTP requests being served.",
    ["route"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS = Counter(
    "matchgraph_graphql_operations_total",
    "GraphQL operations executed (response cache hits are not executed).",
    ["operation_type", "operation_name", "outcome"],
    registry=REGISTRY,
)
OPERATIONS_STOPPED = Counter(
    "matchgraph_graphql_operations_stopped_total",
    "HTTP operations stopped before they finished: `timeout` (MATCHGRAPH_OPERATION_TIMEOUT) "
    "or `disconnect` (the client hung up).",
    ["reason"],
    registry=REGISTRY,
)
OPERATION_DURATION = Histogram(
    "matchgraph_graphql_operation_duration_seconds",
    "GraphQL operations from parsing to their result (a subscription: until it has "
    "started, or was refused), by type and bounded name; response cache hits do not execute.",
    ["operation_type", "operation_name"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
OPERATION_COST = Histogram(
    "matchgraph_graphql_operation_cost",
    "Estimated cost of GraphQL operations before execution (IBM cost spec), executed "
    "or refused (dry runs are not counted).",
    ["operation_type", "operation_name"],
    buckets=COST_BUCKETS,
    registry=REGISTRY,
)
OPERATIONS_OVER_COST = Counter(
    "matchgraph_graphql_operations_over_cost_total",
    "GraphQL operations whose estimated cost was over MATCHGRAPH_MAX_COST: `refused` "
    "(enforce mode, nothing executed) or `measured` (measure mode, executed).",
    ["operation_type", "action"],
    registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    "matchgraph_graphql_errors_total",
    "GraphQL errors returned, by extensions.code.",
    ["code"],
    registry=REGISTRY,
)
OPERATION_ERRORS = Counter(
    "matchgraph_graphql_operation_errors_total",
    "GraphQL errors in the results of operations the schema ran, by operation and "
    "extensions.code (errors answered before an operation, e.g. UNAUTHENTICATED, are not).",
    ["operation_type", "operation_name", "code"],
    registry=REGISTRY,
)
PERSISTED_QUERIES = Counter(
    "matchgraph_persisted_queries_total",
    "Persisted documents (api/persisted) by outcome: hit (an id resolved), registered (an "
    "APQ document stored), not_found, mismatch (hash not the document's), invalid, refused "
    "(not persisted, MATCHGRAPH_PERSISTED_ONLY).",
    ["outcome"],
    registry=REGISTRY,
)
PERSISTED_QUERY_STORE_ERRORS = Counter(
    "matchgraph_persisted_query_store_errors_total",
    "Redis failures reading or storing APQ registrations (answered as not found).",
    registry=REGISTRY,
)
RESPONSE_CACHE = Counter(
    "matchgraph_response_cache_requests_total",
    "HTTP GraphQL operations by what the response cache did: hit, miss (stored), uncacheable.",
    ["result"],
    registry=REGISTRY,
)
LOADER_BATCHES = Counter(
    "matchgraph_loader_batches_total",
    "DataLoader batches run, by loader.",
    ["loader"],
    registry=REGISTRY,
)
PLANNER_ROOT_FIELDS = Counter(
    "matchgraph_planner_root_fields_total",
    "Root fields of queries by how they ran: `planned` (compiled execution), or the reason "
    "graphql-core answered (unplanned-field, error, data, orphan, bug).",
    ["outcome"],
    registry=REGISTRY,
)
WEBSOCKET_CONNECTIONS = Gauge(
    "matchgraph_websocket_connections",
    "Open GraphQL WebSocket connections, by sub-protocol.",
    ["protocol"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
SUBSCRIPTIONS_ACTIVE = Gauge(
    "matchgraph_subscriptions_active",
    "Running GraphQL subscriptions.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
SSE_STREAMS = Gauge(
    "matchgraph_sse_streams",
    "Open GraphQL-over-SSE event streams at /graphql/stream, by mode (distinct, single); "
    "they are left out of matchgraph_request_duration_seconds.",
    ["mode"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DRAINING = Gauge(
    "matchgraph_draining",
    "1 while the process drains after SIGTERM (/ready answers 503), else 0.",
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "matchgraph_rate_limited_total",
    "Requests and subscriptions refused with RATE_LIMITED (HTTP 429), by API key name "
    "(`address` for every client address when the service is open).",
    ["key"],
    registry=REGISTRY,
)
RATE_LIMIT_CHARGED = Counter(
    "matchgraph_rate_limit_charged_total",
    "Cost units charged to rate-limit budgets (MATCHGRAPH_RATE_LIMIT_COST_PER_MINUTE), by "
    "API key name (`address` when the service is open).",
    ["key"],
    registry=REGISTRY,
)
RATE_LIMIT_STORE_ERRORS = Counter(
    "matchgraph_rate_limit_store_errors_total",
    "Rate-limit charges Redis failed to answer; those requests passed unchecked (fail open).",
    registry=REGISTRY,
)
SOURCE_ROWS = Gauge(
    "matchgraph_source_rows",
    "Rows of the snapshot in service (NaN before a first load).",
    ["source"],
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
SOURCE_AGE = Gauge(
    "matchgraph_source_age_seconds",
    "Seconds since the file of the snapshot in service was modified (NaN when absent).",
    ["source"],
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
SOURCE_ERRORS = Counter(
    "matchgraph_source_errors_total",
    "Failed loads of a source; the last good snapshot stays in service.",
    ["source"],
    registry=REGISTRY,
)
DEGRADED = Gauge(
    "matchgraph_degraded",
    "1 while /health lists the component as degraded, else 0.",
    ["component"],
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
ORPHAN_ROWS = Gauge(
    "matchgraph_orphan_rows",
    "Prediction and odds rows whose match is not in the catalogue.",
    ["source"],
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "matchgraph_queue_depth",
    "Ready jobs waiting in an arq queue (NaN while Redis cannot be read).",
    ["queue"],
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
WORKERS_LIVE = Gauge(
    "matchgraph_workers_live",
    "Workers whose health-check key is fresh (NaN while Redis cannot be read).",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
LIVE_PREDICTIONS = Gauge(
    "matchgraph_worker_live_predictions",
    "Live predictions made by the live workers since each started, from their heartbeats.",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
MODEL_CALLS = Gauge(
    "matchgraph_worker_model_calls",
    "Model calls those predictions took (concurrent predictions share one), from heartbeats.",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
TASKS_ENQUEUED = Counter(
    "matchgraph_tasks_enqueued_total",
    "Jobs enqueued by the API, by job function.",
    ["kind"],
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "matchgraph_build_info",
    "Always 1; the labels name the running build.",
    ["version", "python"],
    multiprocess_mode="max",
    registry=REGISTRY,
)
BUILD_INFO.labels(version=VERSION, python=platform.python_version()).set(1)

# Known label values start at 0, so the first increment is a visible increase().
CACHE_RESULTS = {result: RESPONSE_CACHE.labels(result) for result in ("hit", "miss", "uncacheable")}
PERSISTED_OUTCOMES = ("hit", "registered", "not_found", "mismatch", "invalid", "refused")
for _outcome in PERSISTED_OUTCOMES:
    PERSISTED_QUERIES.labels(_outcome)
for _code in [*Code, "OTHER"]:
    GRAPHQL_ERRORS.labels(_code)
# `address` (an open service's one label); key names are added when the limiter starts.
RATE_LIMITED.labels("address")
RATE_LIMIT_CHARGED.labels("address")
COSTED_OPERATION_TYPES = ("query", "mutation", "subscription")
for _operation_type in COSTED_OPERATION_TYPES:
    for _action in ("refused", "measured"):
        OPERATIONS_OVER_COST.labels(_operation_type, _action)
for _protocol in ("graphql-transport-ws", "graphql-ws"):
    WEBSOCKET_CONNECTIONS.labels(_protocol)
for _mode in ("distinct", "single"):
    SSE_STREAMS.labels(_mode)
DRAINING.set(0)
for _spec in ALL_TABLES:
    SOURCE_ERRORS.labels(_spec.source)
for _kind in sorted(SHORT_JOBS | LONG_JOBS):
    TASKS_ENQUEUED.labels(_kind)

ALL_METRICS = (
    REQUESTS,
    REQUEST_DURATION,
    REQUESTS_IN_PROGRESS,
    GRAPHQL_OPERATIONS,
    GRAPHQL_ERRORS,
    OPERATION_ERRORS,
    OPERATION_DURATION,
    OPERATION_COST,
    OPERATIONS_OVER_COST,
    RESPONSE_CACHE,
    PERSISTED_QUERIES,
    PERSISTED_QUERY_STORE_ERRORS,
    LOADER_BATCHES,
    WEBSOCKET_CONNECTIONS,
    SUBSCRIPTIONS_ACTIVE,
    SSE_STREAMS,
    DRAINING,
    RATE_LIMITED,
    RATE_LIMIT_CHARGED,
    RATE_LIMIT_STORE_ERRORS,
    SOURCE_ROWS,
    SOURCE_AGE,
    SOURCE_ERRORS,
    DEGRADED,
    ORPHAN_ROWS,
    QUEUE_DEPTH,
    WORKERS_LIVE,
    LIVE_PREDICTIONS,
    MODEL_CALLS,
    TASKS_ENQUEUED,
    BUILD_INFO,
)


def exported_names() -> set[str]:
    """Names as PromQL sees them (counters with `_total`; a histogram by its base name)."""
    names: set[str] = set()
    for metric in ALL_METRICS:
        for family in metric.describe():
            names.add(family.name + "_total" if family.type == "counter" else family.name)
    return names


class OperationNames:
    """Client-chosen operation names as label values, bounded.

    Names that are not plain identifiers of at most 64 characters, and every
    new name once `limit` are known, count as `other`; no name is `anonymous`.
    The API builds one per application, so per process
    (MATCHGRAPH_METRICS_MAX_OPERATION_NAMES): in multi-process mode each worker
    learns its own names, and a scrape may show up to (workers * limit) of them.
    """

    PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if name in self._known:
            return name
        if not self.PATTERN.fullmatch(name):
            return "other"
        with self._lock:
            if len(self._known) >= self.limit:
                return "other"
            self._known.add(name)
        return name


_CODES = frozenset(code.value for code in Code)


def persisted_query(outcome: str) -> None:
    """One persisted-document outcome (PERSISTED_OUTCOMES)."""
    PERSISTED_QUERIES.labels(outcome).inc()


def graphql_error(code: str) -> None:
    """One GraphQL error returned with this `extensions.code` (unknown codes count as OTHER)."""
    GRAPHQL_ERRORS.labels(code if code in _CODES else "OTHER").inc()


def operation_error(operation_type: str, operation_name: str, code: str) -> None:
    """One error in an operation's result: counted by code, and by operation and code."""
    code = code if code in _CODES else "OTHER"
    GRAPHQL_ERRORS.labels(code).inc()
    OPERATION_ERRORS.labels(operation_type, operation_name, code).inc()


def operation_cost(
    operation_type: str, operation_name: str, estimated: int, *, over: bool, refused: bool
) -> None:
    """One priced operation (graph/cost): its estimate, and whether it was over the limit."""
    if operation_type not in COSTED_OPERATION_TYPES:
        return
    OPERATION_COST.labels(operation_type, operation_name).observe(estimated)
    if over:
        OPERATIONS_OVER_COST.labels(operation_type, "refused" if refused else "measured").inc()


def rate_limit_labels(keys: list[str]) -> None:
    """Start each budget's series at 0 (key names, or `address`): a first refusal is then
    a visible increase()."""
    for key in keys:
        RATE_LIMITED.labels(key)
        RATE_LIMIT_CHARGED.labels(key)


def rate_limit_charged(key: str, units: int) -> None:
    RATE_LIMIT_CHARGED.labels(key).inc(units)


def rate_limit_refused(key: str) -> None:
    RATE_LIMITED.labels(key).inc()


def source_failed(source: str) -> None:
    """A load of `source` failed (the snapshot holder's error hook)."""
    SOURCE_ERRORS.labels(source).inc()


def task_enqueued(kind: str) -> None:
    """The API enqueued a `kind` job (the task client's hook)."""
    TASKS_ENQUEUED.labels(kind).inc()


def check_mode(settings: Settings) -> None:
    """Refuse a multi-process directory the metrics do not actually use.

    prometheus-client reads `PROMETHEUS_MULTIPROC_DIR` once, at import; a
    directory given only to `Settings` (or a different one) would be ignored.
    """
    wanted = settings.prometheus_multiproc_dir
    if wanted is None:
        return
    active = multiprocess_dir()
    if active is None or Path(active).resolve() != wanted.resolve():
        raise RuntimeError(
            f"prometheus_multiproc_dir={wanted} is not the directory prometheus-client uses "
            f"({active or 'none: single-process mode'}); set PROMETHEUS_MULTIPROC_DIR in the "
            "environment before the process starts"
        )


def render() -> bytes:
    """The Prometheus text exposition of every metric (of every worker, in multi-process mode)."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    forget_dead_processes(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def forget_dead_processes(path: str) -> list[int]:
    """Drop the live-gauge files of workers that died (uvicorn has no child-exit hook).

    Their counters and histograms stay: sums must not go down. Only valid when
    every writer shares this machine's process ids (one pod, one container).
    """
    dead: set[int] = set()
    for file in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = _LIVE_GAUGE_FILE.fullmatch(os.path.basename(file))
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
    return sorted(dead)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True
