"""What our library adapters rely on, checked against the installed libraries.

Every private name of Strawberry, graphql-core and arq that the code uses goes
through one module per library (`graph/adapters/strawberry.py`,
`graph/adapters/graphql_core.py`, `graph/taskqueue/arq_internals.py`). After
an upgrade, a failure here names the library, what changed and the adapter to
fix; nothing else should need to change.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import AsyncGenerator, Callable, Iterator
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import strawberry
from arq.connections import ArqRedis
from arq.jobs import deserialize_job_raw, deserialize_result
from arq.worker import Worker, func
from graphql import ExecutionResult as CoreExecutionResult
from graphql import (
    GraphQLError,
    GraphQLSchema,
    OverlappingFieldsCanBeMergedRule,
    ValidationContext,
    parse,
    validate,
)
from graphql.execution import Executor
from redis.asyncio import ConnectionPool
from strawberry.asgi import GraphQL
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import ExecutionResult
from strawberry.types.field import StrawberryField
from strawberry.types.graphql import OperationType

import graph.adapters.graphql_core as gc_adapter
import graph.adapters.strawberry as sb_adapter
import graph.taskqueue.arq_internals as arq_adapter
from graph.fastpath import install_attribute_resolvers
from graph.taskqueue.serializer import dumps, loads

ROOT = Path(__file__).resolve().parent.parent
STRAWBERRY = ("strawberry-graphql", sb_adapter.STRAWBERRY_VERSION, "graph/adapters/strawberry.py")
GRAPHQL_CORE = ("graphql-core", gc_adapter.GRAPHQL_CORE_VERSION, "graph/adapters/graphql_core.py")
ARQ = ("arq", arq_adapter.ARQ_VERSION, "graph/taskqueue/arq_internals.py")


def changed(library: tuple[str, str, str], what: str) -> str:
    name, _, adapter = library
    return f"{name} {version(name)} changed {what}: see {adapter}"


def params(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def has_params(
    library: tuple[str, str, str], owner: type, method: str, expected: list[str]
) -> None:
    function = getattr(owner, method, None)
    assert function is not None, changed(library, f"{owner.__name__}.{method} is gone")
    assert params(function)[: len(expected)] == expected, changed(
        library, f"{owner.__name__}.{method}{inspect.signature(function)} (we pass {expected})"
    )


def calls(library: tuple[str, str, str], owner: type, method: str, callee: str) -> None:
    source = inspect.getsource(getattr(owner, method))
    assert re.search(rf"\bself\.{re.escape(callee)}\(", source), changed(
        library, f"{owner.__name__}.{method} no longer calls self.{callee}()"
    )


# --- the versions the adapters were written against ---------------------------------


@pytest.mark.parametrize("library", [STRAWBERRY, GRAPHQL_CORE, ARQ], ids=lambda lib: lib[0])
def test_installed_versions_are_the_ones_the_adapters_were_written_against(
    library: tuple[str, str, str],
) -> None:
    name, written_for, adapter = library
    installed = version(name)
    assert installed == written_for, (
        f"{name} {installed} is installed but {adapter} was written against {written_for}: "
        f"run tests/test_library_adapters.py, fix {adapter} where it fails, then update "
        "its version constant"
    )
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"{name}=={written_for}" in pins, (
        f"pyproject.toml no longer pins {name}=={written_for}: see {adapter}"
    )


# --- Strawberry -----------------------------------------------------------------------


@strawberry.type
class AdapterItem:
    name: str

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class AdapterQuery:
    @strawberry.field
    def items(self) -> list[AdapterItem]:
        return [AdapterItem(name=f"i{n}") for n in range(200)]

    @strawberry.field
    def boom(self) -> str:
        raise ValueError("boom")


def test_strawberry_schema_exposes_the_graphql_core_schema_it_runs() -> None:
    schema = strawberry.Schema(query=AdapterQuery)
    core = sb_adapter.graphql_core_schema(schema)
    assert isinstance(core, GraphQLSchema), changed(STRAWBERRY, "Schema._schema")
    core.get_type("AdapterItem").fields["name"].resolve = lambda *_: "swapped"  # type: ignore[union-attr]
    result = schema.execute_sync("{ items { name } }")
    assert result.data and result.data["items"][0]["name"] == "swapped", changed(
        STRAWBERRY, "Schema._schema is no longer the schema execution uses"
    )


def test_strawberry_field_definitions_and_default_resolvers() -> None:
    assert sb_adapter.DEFINITION_KEY == "strawberry-definition", changed(
        STRAWBERRY, "GraphQLCoreConverter.DEFINITION_BACKREF"
    )
    core = sb_adapter.graphql_core_schema(strawberry.Schema(query=AdapterQuery))
    fields = core.get_type("AdapterItem").fields  # type: ignore[union-attr]
    plain, resolved = fields["name"], fields["shout"]
    for field in (plain, resolved):
        definition = (field.extensions or {}).get(sb_adapter.DEFINITION_KEY)
        assert isinstance(definition, StrawberryField), changed(
            STRAWBERRY, f"what a field's extensions[{sb_adapter.DEFINITION_KEY!r}] holds"
        )
        for attribute in ("base_resolver", "extensions", "permission_classes", "python_name"):
            assert hasattr(definition, attribute), changed(
                STRAWBERRY, f"StrawberryField.{attribute} (read by graph/fastpath.py)"
            )
    assert plain.resolve is not None and sb_adapter.is_default_resolver(plain.resolve), changed(
        STRAWBERRY, "the mark of a field without resolver (is_default_resolver)"
    )
    assert resolved.resolve is not None and not sb_adapter.is_default_resolver(resolved.resolve)
    assert install_attribute_resolvers(core) == 1


def test_strawberry_mask_errors_runs_our_error_pass() -> None:
    has_params(STRAWBERRY, MaskErrors, "_process_errors", ["self", "errors"])
    assert issubclass(sb_adapter.ErrorRewriting, MaskErrors)

    class Tagging(sb_adapter.ErrorRewriting):
        def rewrite_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
            for error in errors:
                error.extensions = {"tagged": True}
            return errors

    result = strawberry.Schema(query=AdapterQuery, extensions=[Tagging]).execute_sync("{ boom }")
    assert result.errors and result.errors[0].extensions == {"tagged": True}, changed(
        STRAWBERRY, "MaskErrors no longer passes a result's errors through _process_errors"
    )
    masked = strawberry.Schema(query=AdapterQuery, extensions=[sb_adapter.ErrorRewriting])
    errors = masked.execute_sync("{ boom }").errors
    assert errors and errors[0].message == "Unexpected error.", changed(
        STRAWBERRY, "MaskErrors._process_errors (the default pass masks)"
    )


async def test_strawberry_on_execute_may_answer_instead_of_executing() -> None:
    """graph/cost/analysis.py refuses an operation in `on_execute`: a query or mutation by
    setting the result (Strawberry then skips graphql-core's execute), a subscription by
    raising (Strawberry answers with one error result; `subscribe` never runs)."""
    ran: list[str] = []

    @strawberry.type
    class Query:
        @strawberry.field
        def value(self) -> int:
            ran.append("query")
            return 1

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def ticks(self) -> AsyncGenerator[int, None]:
            ran.append("subscription")
            yield 1

    class Refuse(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            error = GraphQLError("refused", extensions={"code": "REFUSED"})
            if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
                raise error
            self.execution_context.result = CoreExecutionResult(data=None, errors=[error])
            yield

    schema = strawberry.Schema(query=Query, subscription=Subscription, extensions=[Refuse])
    result = await schema.execute("{ value }")
    assert result.data is None and result.errors, result
    assert result.errors[0].extensions == {"code": "REFUSED"}
    stream = await schema.subscribe("subscription { ticks }")
    assert not isinstance(stream, ExecutionResult)
    results = [r async for r in stream]
    assert len(results) == 1 and results[0].errors, changed(
        STRAWBERRY, "an exception raised in on_execute of a subscription"
    )
    assert results[0].errors[0].extensions == {"code": "REFUSED"}
    assert ran == [], changed(STRAWBERRY, "a result set in on_execute no longer skips execution")


def test_strawberry_execution_context_and_schema_parameter() -> None:
    assert "execution_context_class" in params(strawberry.Schema.__init__), changed(
        STRAWBERRY, "Schema(execution_context_class=...)"
    )
    assert issubclass(sb_adapter.ExecutionContextBase, Executor), changed(
        STRAWBERRY, "its execution context no longer derives from graphql-core's Executor"
    )


def test_strawberry_websocket_handlers() -> None:
    handlers = [
        (sb_adapter.BaseGraphQLWSHandler, "handle_connection_init", ["self", "message"]),
        (sb_adapter.BaseGraphQLWSHandler, "handle_start", ["self", "message"]),
        (sb_adapter.BaseGraphQLWSHandler, "send_message", ["self", "message"]),
        (sb_adapter.BaseGraphQLTransportWSHandler, "handle_subscribe", ["self", "message"]),
        (sb_adapter.BaseGraphQLTransportWSHandler, "send_message", ["self", "message"]),
        (sb_adapter.ASGIWebSocketAdapter, "send_json", ["self", "message"]),
        (sb_adapter.ASGIWebSocketAdapter, "__init__", ["self", "view", "request", "response"]),
    ]
    for owner, method, expected in handlers:
        has_params(STRAWBERRY, owner, method, expected)
    # what api/ reads on a handler: built the way Strawberry builds it
    legacy = sb_adapter.BaseGraphQLWSHandler(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,
        None,
        None,  # type: ignore[arg-type]
        False,
        None,
        7,
    )
    transport = sb_adapter.BaseGraphQLTransportWSHandler(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,
        None,
        None,  # type: ignore[arg-type]
        timedelta(seconds=60),
        7,
    )
    for handler, attributes in (
        (legacy, ("view", "websocket", "tasks", "connection_acknowledged")),
        (transport, ("operations", "connection_acknowledged")),
    ):
        assert handler.max_subscriptions_per_connection == 7, changed(
            STRAWBERRY, f"{type(handler).__name__}'s arguments"
        )
        for attribute in attributes:
            assert hasattr(handler, attribute), changed(
                STRAWBERRY, f"{type(handler).__name__}.{attribute}"
            )
    for attribute in (
        "graphql_ws_handler_class",
        "graphql_transport_ws_handler_class",
        "websocket_adapter_class",
    ):
        assert hasattr(GraphQL, attribute), changed(STRAWBERRY, f"the view's {attribute}")
    has_params(STRAWBERRY, GraphQL, "encode_json_string", ["self", "data"])
    assert "self.ws = response" in inspect.getsource(sb_adapter.ASGIWebSocketAdapter.__init__), (
        changed(STRAWBERRY, "ASGIWebSocketAdapter.ws (the Starlette WebSocket)")
    )


def test_strawberry_view_steps() -> None:
    view = GraphQL
    has_params(
        STRAWBERRY,
        view,
        "execute_single",
        ["self", "request", "request_adapter", "sub_response", "context", "root_value"],
    )
    has_params(
        STRAWBERRY,
        view,
        "execute_operation",
        ["self", "request", "request_adapter", "request_data"],
    )
    has_params(STRAWBERRY, view, "parse_http_body", ["self", "request"])
    calls(STRAWBERRY, view, "execute_operation", "execute_single")
    source = inspect.getsource(view.execute_operation)
    assert "request=request" in source and "context=context" in source, changed(
        STRAWBERRY, "execute_single is no longer called with keywords request= and context="
    )
    calls(STRAWBERRY, view, "run", "parse_http_body")
    calls(STRAWBERRY, view, "run", "execute_operation")
    # the other view methods we override (public, but undocumented)
    has_params(STRAWBERRY, view, "parse_json", ["self", "data"])
    has_params(STRAWBERRY, view, "get_sub_response", ["self", "request"])
    has_params(STRAWBERRY, view, "create_response", ["self", "response_data", "sub_response"])
    assert issubclass(sb_adapter.PreExecutionError, sb_adapter.ExecutionResult)


# --- graphql-core ---------------------------------------------------------------------


def test_graphql_core_list_completion_steps() -> None:
    common = ["item_type", "field_details_list", "info"]
    expected = {
        "complete_iterable_value": ["self", *common, "path", "items", "position_context"],
        "complete_list_item_value": [
            "self",
            "item",
            "complete_results",
            *common,
            "item_path",
            "position_context",
        ],
        "complete_awaitable_list_item_value": [
            "self",
            "item",
            *common,
            "item_path",
            "position_context",
        ],
        "settle_in_background": ["self", "awaitables"],
        "get_stream_usage": ["self", "field_details_list", "path"],
    }
    for method, names in expected.items():
        has_params(GRAPHQL_CORE, Executor, method, names)
    assert "is_awaitable" in params(Executor.__init__), changed(
        GRAPHQL_CORE, "Executor.is_awaitable"
    )
    calls(GRAPHQL_CORE, Executor, "complete_value", "complete_list_value")
    calls(GRAPHQL_CORE, Executor, "complete_list_value", "complete_iterable_value")


def test_graphql_core_lists_go_through_complete_list() -> None:
    seen: list[int] = []

    class Counting(gc_adapter.ListCompletionContext):
        def complete_list(self, *args: Any) -> Any:
            seen.append(len(args[4]))
            return super().complete_list(*args)

    schema = strawberry.Schema(query=AdapterQuery, execution_context_class=Counting)
    result = schema.execute_sync("{ items { name } }")
    assert not result.errors and result.data and len(result.data["items"]) == 200
    assert seen == [200], changed(
        GRAPHQL_CORE, "lists are no longer completed through Executor.complete_iterable_value"
    )


def test_graphql_core_field_merging_budget() -> None:
    rule = OverlappingFieldsCanBeMergedRule
    has_params(GRAPHQL_CORE, rule, "enter_selection_set", ["self", "selection_set"])
    assert issubclass(gc_adapter.ValidationAbortedError, GraphQLError)
    core = sb_adapter.graphql_core_schema(strawberry.Schema(query=AdapterQuery))
    document = parse("{ " + " ".join(["items { name }"] * 40) + " }")
    probe = rule(ValidationContext(core, document, None, lambda _: None))  # type: ignore[arg-type]
    budget = getattr(getattr(probe, "rule_context", None), "remaining_complexity_budget", None)
    assert isinstance(budget, int), changed(
        GRAPHQL_CORE, "OverlappingFieldsCanBeMergedRule.rule_context.remaining_complexity_budget"
    )

    class Small(gc_adapter.BudgetedFieldMergingRule):
        budget = 10
        over_budget_extensions = {"code": "TEST"}

        def over_budget_message(self) -> str:
            return "over budget"

    errors = validate(core, document, [Small])
    assert [(e.message, e.extensions) for e in errors] == [("over budget", {"code": "TEST"})], (
        changed(GRAPHQL_CORE, f"how the field-merging budget aborts validation: {errors}")
    )
    assert validate(core, parse("{ items { name } items { name } }"), [Small]) == []


# --- arq ------------------------------------------------------------------------------


def test_arq_keys_are_the_ones_we_document() -> None:
    # graph/taskqueue/names.py tells operators these names (they carry no namespace)
    names_doc = (ROOT / "graph/taskqueue/names.py").read_text()
    for key, prefix in (
        (arq_adapter.job_key("x"), "arq:job:"),
        (arq_adapter.result_key("x"), "arq:result:"),
        (arq_adapter.in_progress_key("x"), "arq:in-progress:"),
    ):
        assert key == prefix + "x", changed(ARQ, f"the key prefix {prefix!r} (now {key[:-1]!r})")
        assert f"`{prefix}`" in names_doc
    default_ttl = inspect.signature(ArqRedis.__init__).parameters["expires_extra_ms"].default
    assert default_ttl == arq_adapter.JOB_KEY_TTL_MS, changed(ARQ, "a job key's lifetime")


def test_arq_job_record_round_trips() -> None:
    has_params(ARQ, arq_adapter, "serialize_job", ["function_name", "args", "kwargs", "job_try"])
    raw = arq_adapter.serialize_job("predict", (), {"a": 1}, None, 1234, serializer=dumps)
    record = loads(raw)
    assert record[arq_adapter.FUNCTION] == "predict", changed(ARQ, "the job record's keys")
    assert record[arq_adapter.KWARGS] == {"a": 1}, changed(ARQ, "the job record's keys")
    assert record[arq_adapter.ENQUEUED_MS] == 1234, changed(ARQ, "the job record's keys")
    function, _, kwargs, job_try, enqueued_ms = deserialize_job_raw(raw, deserializer=loads)
    assert (function, kwargs, job_try, enqueued_ms) == ("predict", {"a": 1}, None, 1234), changed(
        ARQ, "how arq reads the job record we write ourselves"
    )


def test_arq_result_record_round_trips() -> None:
    raw = arq_adapter.serialize_result(
        "predict", (), {"a": 1}, 1, 1000, True, {"x": 2}, 2000, 3000, "ref", "q", "id1",
        serializer=dumps,
    )  # fmt: skip
    assert raw is not None
    record = loads(raw)
    ours = {
        key: record.get(key)
        for key in (
            arq_adapter.FUNCTION,
            arq_adapter.KWARGS,
            arq_adapter.ENQUEUED_MS,
            arq_adapter.SUCCESS,
            arq_adapter.RESULT,
            arq_adapter.STARTED_MS,
            arq_adapter.FINISHED_MS,
        )
    }
    assert list(ours.values()) == ["predict", {"a": 1}, 1000, True, {"x": 2}, 2000, 3000], changed(
        ARQ, f"the result record's keys: {sorted(record)}"
    )
    result = deserialize_result(raw, deserializer=loads)
    assert (result.function, result.kwargs, result.success, result.result) == (
        "predict",
        {"a": 1},
        True,
        {"x": 2},
    ), changed(ARQ, "how arq reads its result record")
    ms = [int(t.timestamp() * 1000) for t in (result.enqueue_time, result.start_time)]
    assert ms == [1000, 2000], changed(ARQ, "the result record's times")


def test_arq_worker_steps() -> None:
    has_params(ARQ, Worker, "main", ["self"])
    has_params(ARQ, Worker, "_poll_iteration", ["self"])
    has_params(ARQ, Worker, "start_jobs", ["self", "job_ids"])
    has_params(ARQ, Worker, "run_job", ["self", "job_id", "score"])
    has_params(ARQ, Worker, "record_health", ["self"])
    has_params(ARQ, Worker, "_release_sem_dec_counter_on_complete", ["self"])
    has_params(ARQ, Worker, "_jobs_started", ["self"])
    calls(ARQ, Worker, "async_run", "main")
    calls(ARQ, Worker, "main", "_poll_iteration")
    calls(ARQ, Worker, "_poll_iteration", "start_jobs")
    calls(ARQ, Worker, "_poll_iteration", "heart_beat")
    calls(ARQ, Worker, "heart_beat", "record_health")
    calls(ARQ, Worker, "start_jobs", "run_job")
    assert "self._last_health_check" in inspect.getsource(Worker.record_health), changed(
        ARQ, "Worker._last_health_check"
    )


async def _job(ctx: dict[str, Any]) -> None:
    return None


async def test_arq_worker_state() -> None:
    pool = ArqRedis(ConnectionPool.from_url("redis://127.0.0.1:1"))
    worker = arq_adapter.WorkerBase(
        functions=[func(_job)], redis_pool=pool, handle_signals=False, max_jobs=1
    )
    try:
        assert worker.last_heartbeat == 0, changed(ARQ, "Worker._last_health_check")
        worker.last_heartbeat = 5.0
        assert worker._last_health_check == 5.0
        assert worker.jobs_started() == 0, changed(ARQ, "Worker._jobs_started")
        counter = worker.job_counter
        await worker.sem.acquire()  # what start_jobs takes for a job (with max_jobs=1: all)
        worker.job_counter += 1
        worker.release_slot()
        assert worker.job_counter == counter and not worker.sem.locked(), changed(
            ARQ, "what releasing a job's slot does"
        )
        assert worker.pool is pool and worker._pool is pool, changed(ARQ, "Worker._pool")
        for attribute in (
            "tasks",
            "job_counter",
            "max_jobs",
            "max_burst_jobs",
            "in_progress_timeout_s",
            "health_check_key",
            "health_check_interval",
            "jobs_complete",
            "jobs_failed",
            "ctx",
            "on_startup",
            "burst",
            "functions",
            "queue_name",
        ):
            assert hasattr(worker, attribute), changed(ARQ, f"Worker.{attribute}")
    finally:
        await worker.drop_pool()
    assert worker._pool is None
