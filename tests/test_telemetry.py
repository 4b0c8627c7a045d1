"""Per-operation telemetry through the real API: OpenTelemetry spans and promtool's verdict.

Spans are collected by the SDK's own in-memory exporter behind the batch
processor the API installs, or sent over real OTLP/HTTP to a receiver on
loopback. Each traced server is stopped before its spans are read: shutting
the lifespan down flushes them, so nothing here waits on a timer.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from api import metrics, tracing
from api.app import create_app
from graph import tracing as graph_tracing
from graph.operation_spans import EXECUTE, OPERATION, PARSE, VALIDATE, OperationSpans
from graph.settings import Settings
from tests import datasets
from tests.fixtures.promtool import check_metrics, promtool
from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.worker import OwnRedis
from tests.fixtures.ws import TRANSPORT_WS, subscribe

ROOT = Path(__file__).resolve().parents[1]
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"

# Not planned (MATCHGRAPH_PLANNER=false below): graphql-core resolves it through the loaders.
CARDS = """query TracedCards {
  matches(first: 20) { edges { node { matchId prediction { probaHome } odds { home } } } } }"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("telemetry")
    datasets.write_set(root, 100)
    return root


@pytest.fixture(scope="module")
def dead_redis_url() -> str:
    with contextlib.closing(_bound_socket()) as sock:
        return f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def running(
    data_dir: Path, redis_url: str, exporter: SpanExporter | None, **overrides: Any
) -> Iterator[str]:
    """The API on loopback for the block; stopped (its lifespan closed) when it ends."""
    sock = _bound_socket()
    host, port = sock.getsockname()
    settings = Settings(host=host, port=port, data_dir=data_dir, redis_url=redis_url, **overrides)
    app = create_app(settings, span_exporter=exporter)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "the API did not start"
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
    assert not thread.is_alive()


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def _trace(spans: tuple[ReadableSpan, ...], root_name: str) -> list[ReadableSpan]:
    """The spans of the one trace whose operation span is named `root_name`."""
    root = _one(list(spans), root_name)
    return [s for s in spans if s.context.trace_id == root.context.trace_id]


# -- spans ---------------------------------------------------------------------------


async def test_an_http_query_is_traced_step_by_step(data_dir: Path, dead_redis_url: str) -> None:
    exporter = InMemorySpanExporter()
    with running(data_dir, dead_redis_url, exporter, otel_enabled=True, planner=False) as url:
        assert graph_tracing.active() is not None
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            response = await client.post(
                "/graphql",
                json={"query": CARDS},
                headers={"traceparent": TRACEPARENT, "X-Matchgraph-Debug": "1"},
            )
    assert graph_tracing.active() is None  # removed with the lifespan
    body = response.json()
    assert "errors" not in body, body
    spans = _trace(exporter.get_finished_spans(), "query TracedCards")

    operation = _one(spans, "query TracedCards")
    assert operation.kind is SpanKind.SERVER
    assert operation.context.trace_id == TRACE_ID  # joined the caller's trace
    assert operation.parent is not None and operation.parent.span_id == PARENT_ID
    attributes = dict(operation.attributes or {})
    assert attributes["graphql.operation.type"] == "query"
    assert attributes["graphql.operation.name"] == "TracedCards"
    estimated = body["extensions"]["cost"]["estimated"]
    assert attributes["matchgraph.cost.estimated"] == estimated
    assert operation.status.status_code is StatusCode.UNSET
    assert operation.resource.attributes["service.name"] == "matchgraph"

    steps = _children(spans, operation)
    assert [s.name for s in sorted(steps, key=lambda s: s.start_time or 0)] == [
        PARSE,
        VALIDATE,
        "matchgraph.cost",
        EXECUTE,
    ]
    cost = _one(steps, "matchgraph.cost")
    assert dict(cost.attributes or {}) == {
        "matchgraph.cost.estimated": estimated,
        "matchgraph.cost.limit": 200_000,
        "matchgraph.cost.refused": False,
    }
    # One span per loader batch, as many as the operation counted, all inside execute.
    batches = [s for s in spans if s.name == graph_tracing.LOADER_BATCH]
    counted = body["extensions"]["loaderBatches"]
    assert len(batches) == sum(counted.values()) >= 2
    assert _children(spans, _one(steps, EXECUTE)) == batches
    for batch in batches:
        assert batch.attributes is not None
        assert batch.attributes["matchgraph.loader.batch_size"] == 20
    names = sorted(str((b.attributes or {})["matchgraph.loader.name"]) for b in batches)
    assert names == sorted(n for n, c in counted.items() for _ in range(c))
    assert len(spans) == 1 + 4 + len(batches)  # no span per field


async def test_failed_and_refused_operations_are_marked(
    data_dir: Path, dead_redis_url: str
) -> None:
    exporter = InMemorySpanExporter()
    with running(data_dir, dead_redis_url, exporter, otel_enabled=True, max_cost=100) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            broken = await client.post("/graphql", json={"query": "query Broken { matches("})
            refused = await client.post(
                "/graphql",
                json={
                    "query": "query Dear { matches(first: 5000) { edges { node { matchId } } } }"
                },
            )
    assert broken.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert refused.json()["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    finished = exporter.get_finished_spans()

    # A document that does not parse: no type, no name; the parse span did not complete.
    unparsed = _trace(finished, OPERATION)
    operation = _one(unparsed, OPERATION)
    assert operation.status.status_code is StatusCode.ERROR
    assert dict(operation.attributes or {}) == {
        "matchgraph.graphql.error_codes": ("GRAPHQL_PARSE_FAILED",)
    }
    parse = _one(unparsed, PARSE)
    assert parse.status.status_code is StatusCode.ERROR
    assert {s.name for s in unparsed} == {OPERATION, PARSE}

    # Over the cost limit: priced, refused, never executed.
    spans = _trace(finished, "query Dear")
    operation = _one(spans, "query Dear")
    assert operation.status.status_code is StatusCode.ERROR
    assert operation.attributes is not None
    assert operation.attributes["matchgraph.graphql.error_codes"] == ("COST_LIMIT_EXCEEDED",)
    assert operation.attributes["matchgraph.cost.refused"] is True
    cost = _one(spans, "matchgraph.cost")
    assert cost.attributes is not None and cost.attributes["matchgraph.cost.refused"] is True
    assert {s.name for s in spans} == {"query Dear", PARSE, VALIDATE, "matchgraph.cost"}


async def test_a_websocket_operation_is_traced(data_dir: Path, dead_redis_url: str) -> None:
    exporter = InMemorySpanExporter()
    with running(data_dir, dead_redis_url, exporter, otel_enabled=True, planner=False) as url:
        ws_url = url.replace("http://", "ws://") + "/graphql"
        results = await subscribe(ws_url, CARDS)
    assert len(results[0]["matches"]["edges"]) == 20
    spans = _trace(exporter.get_finished_spans(), "query TracedCards")
    operation = _one(spans, "query TracedCards")
    assert [s.name for s in _children(spans, operation) if s.name == EXECUTE] == [EXECUTE]
    batches = [s for s in spans if s.name == graph_tracing.LOADER_BATCH]
    assert batches
    assert _children(spans, _one(spans, EXECUTE)) == batches


async def test_a_subscription_is_traced_for_its_life(
    data_dir: Path, own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = InMemorySpanExporter()
    with running(data_dir, own_redis.url, exporter, otel_enabled=True) as url:
        ws_url = url.replace("http://", "ws://") + "/graphql"
        upgrade = {"traceparent": TRACEPARENT}  # on the upgrade request
        connect = websockets.connect(
            ws_url, subprotocols=[TRANSPORT_WS], additional_headers=upgrade
        )
        async with connect as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            query = "subscription Follow { predictMatch(matchId: 2) { status } }"  # no worker
            message = {"id": "1", "type": "subscribe", "payload": {"query": query}}
            await ws.send(json.dumps(message))
            assert json.loads(await ws.recv())["type"] == "next"
            await ws.send(json.dumps({"id": "1", "type": "complete"}))
    spans = _trace(exporter.get_finished_spans(), "subscription Follow")
    operation = _one(spans, "subscription Follow")
    assert operation.status.status_code is StatusCode.UNSET  # the client stopping it is no error
    assert operation.context.trace_id == TRACE_ID
    assert operation.parent is not None and operation.parent.span_id == PARENT_ID
    assert {s.name for s in _children(spans, operation)} == {
        PARSE,
        VALIDATE,
        "matchgraph.cost",
        EXECUTE,
    }
    execute = _one(spans, EXECUTE)
    assert execute.end_time is not None and operation.end_time is not None
    assert execute.end_time < operation.end_time  # the set-up, not the life
    # OpenTelemetry's context was restored where it was set (it logs an error otherwise).
    assert not [r for r in caplog.records if "detach" in r.getMessage().lower()]


async def test_tracing_off_installs_nothing(data_dir: Path, dead_redis_url: str) -> None:
    exporter = InMemorySpanExporter()
    with running(data_dir, dead_redis_url, exporter) as url:  # MATCHGRAPH_OTEL_ENABLED unset
        assert graph_tracing.active() is None
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            response = await client.post("/graphql", json={"query": CARDS})
        assert response.status_code == 200
    assert exporter.get_finished_spans() == ()
    assert Settings().otel_enabled is False
    with graph_tracing.span("anything") as span:
        assert span is None


def test_only_the_enabled_schema_carries_span_extensions() -> None:
    from graph.schema import _extensions

    assert OperationSpans not in _extensions(Settings())
    traced = _extensions(Settings(otel_enabled=True))
    assert traced[0] is OperationSpans  # before the caches that parse and validate


class _Receiver(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: keeps each decoded export request."""

    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        type(self).received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def test_spans_go_over_otlp_http_as_the_environment_says(
    data_dir: Path, dead_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = type("Receiver", (_Receiver,), {"received": []})
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    try:
        with running(data_dir, dead_redis_url, None, otel_enabled=True) as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                await client.post("/graphql", json={"query": "query OverOtlp { __typename }"})
    finally:
        receiver.shutdown()
        receiver.server_close()
    requests: list[ExportTraceServiceRequest] = handler.received  # type: ignore[attr-defined]
    assert requests
    resources = [r.resource for request in requests for r in request.resource_spans]
    spans = [
        span
        for request in requests
        for r in request.resource_spans
        for scope in r.scope_spans
        for span in scope.spans
    ]
    attributes = {a.key: a.value.string_value for a in resources[0].attributes}
    assert attributes["service.name"] == "matchgraph"
    assert attributes["deployment.environment"] == "test"
    assert "query OverOtlp" in {span.name for span in spans}


def test_unsupported_exporters_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(RuntimeError, match="http/protobuf"):
        tracing.environment_exporter()
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(RuntimeError, match="otlp, console, none"):
        tracing.environment_exporter()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracing.environment_exporter() is None
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.tracing_wanted(Settings(otel_enabled=True))


# -- promtool --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def busy_api(serve: ServeFactory, data_dir: Path, dead_redis_url: str) -> LiveServer:
    # Rate limits on over a Redis that is down: they fail open and count it.
    return serve(data_dir=data_dir, redis_url=dead_redis_url, rate_limit_cost_per_minute=10_000)


OPERATIONS = [
    "query PromPage { matches(first: 3) { edges { node { matchId liveScore { status } } } } }",
    "query PromBad { matches(first: 999999) { totalCount } }",  # an operation's error
    "mutation PromMut { predictMatch(matchId: 1, wait: false) { status } }",  # no Redis: error
]


async def test_a_real_scrape_passes_promtool_with_every_family(busy_api: LiveServer) -> None:
    async with busy_api.client() as client:
        for query in OPERATIONS:
            assert (await client.post("/graphql", json={"query": query})).status_code == 200
        text = (await client.get("/metrics")).text
    families = {f.name for f in text_string_to_metric_families(text) if f.samples}
    exported = {name.removesuffix("_total") for name in metrics.exported_names()}
    assert exported - families == set()  # every family is there, with samples
    check_metrics(text)


def test_promtool_does_find_problems() -> None:
    bad = "# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n"  # no `_total`
    result = promtool("check", "metrics", stdin=bad)
    assert result.returncode != 0 or result.stdout.strip() or result.stderr.strip()
    with pytest.raises(AssertionError):
        check_metrics(bad)


def test_alert_rules_pass_promtool() -> None:
    result = promtool("check", "rules", str(ROOT / "deploy" / "prometheus" / "rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Each dashboard expression, Grafana's interval variables filled in, as a recording
    rule: promtool parses every one."""
    exprs = [
        target["expr"].replace("$__rate_interval", "1m").replace("$__range", "1h")
        for dashboard in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
        for panel in json.loads(dashboard.read_text())["panels"]
        for target in panel.get("targets", [])
    ]
    assert any("matchgraph_graphql_operation_duration_seconds" in e for e in exprs)
    rules = [{"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))  # YAML
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
