"""A bounded schemathesis fuzz of every query field: bad input is never INTERNAL or a 5xx.

schemathesis reads the schema by introspection from the running API and
generates operations for each root field: valid ones (positive mode) and ones
that break the schema (negative mode: wrong types, missing arguments).
Mutations are left out (they enqueue jobs or write the database), and so is
`model`, which submits a model_info job; subscriptions are not HTTP
operations. Each field gets at most MAX_EXAMPLES examples per mode,
derandomized (the same cases on every run, so CI is reproducible), and the
whole run stops sending requests after BUDGET_SECONDS.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from tests.fixtures.server import LiveServer, ServeFactory
from tests.fixtures.worker import redis_url

MAX_EXAMPLES = 75  # per field and generation mode
BUDGET_SECONDS = 40.0  # the whole run; the cases are cheap, this only guards a slow machine
EXCLUDED = {"Query.model"}  # submits a model_info job to the queue


@pytest.fixture(scope="module")
def fuzzed(serve: ServeFactory, demo_dir: Path, redis_db: int) -> LiveServer:
    """The demo data on this session's own Redis database (the fuzz only reads it), a
    short operation limit and no response cache (every case executes)."""
    return serve(
        data_dir=demo_dir,
        redis_url=redis_url(redis_db),
        operation_timeout=2,
        sync_timeout=1,
        response_cache_mb=0,
    )


@dataclass
class Findings:
    deadline: float
    sent: int = 0
    problems: dict[str, str] = field(default_factory=dict)  # what went wrong -> an example

    def check(self, case: Any, response: requests.Response) -> None:
        self.sent += 1
        found = _problems(response)
        for problem in found:
            self.problems.setdefault(problem, f"{case.body}\n-> {response.text[:500]}")


def _problems(response: requests.Response) -> list[str]:
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}"]
    try:
        body = response.json()
    except ValueError:
        return [f"HTTP {response.status_code} with a body that is not JSON"]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code is None:
            found.append(f"error without a code: {error.get('message')}")
        elif code == "INTERNAL":
            found.append(f"INTERNAL error at {error.get('path')}")
    return found


def _fuzz(operation: Any, mode: GenerationMode, session: requests.Session, seen: Findings) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # findings are collected, not shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        if time.monotonic() > seen.deadline:
            return
        seen.check(case, case.call(session=session, timeout=30))

    run()


def test_fuzzed_queries_never_fail_internally(fuzzed: LiveServer) -> None:
    schema = schemathesis.graphql.from_url(f"{fuzzed.url}/graphql")
    operations = [result.ok() for result in schema.get_all_operations()]
    queries = [op for op in operations if op.label.startswith("Query.")]
    queries = [op for op in queries if op.label not in EXCLUDED]
    assert {"Query.matches", "Query.match", "Query.node", "Query.livescores"} <= {
        op.label for op in queries
    }
    seen = Findings(deadline=time.monotonic() + BUDGET_SECONDS)
    with requests.Session() as session:
        for operation in queries:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, session, seen)
    assert seen.sent >= 4 * len(queries), f"only {seen.sent} cases ran within the budget"
    assert not seen.problems, "\n\n".join(f"{k}\n{v}" for k, v in seen.problems.items())
