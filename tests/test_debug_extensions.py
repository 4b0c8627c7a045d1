"""Debug extensions (`plan`, `loaderBatches`): only when asked for, only where allowed,
never cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import datasets
from tests.fixtures.server import LiveServer, ServeFactory

DEBUG = {"X-Matchgraph-Debug": "1"}
KEY = "s3cret-debug-key"
QUERY = "{ matches(first: 3) { edges { node { matchId prediction { probaHome } } } } }"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("debug")
    datasets.write_set(root, 30)
    return root


async def post(api: LiveServer, headers: dict[str, str] | None = None) -> httpx.Response:
    async with api.client() as client:
        response = await client.post("/graphql", json={"query": QUERY}, headers=headers)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()
    return response


def extensions(response: httpx.Response) -> dict[str, Any]:
    result: dict[str, Any] = response.json()["extensions"]
    return result


async def test_only_a_request_with_the_header_gets_the_plan_and_loader_batches(
    serve: ServeFactory, data_dir: Path
) -> None:
    api = serve(data_dir=data_dir, response_cache_mb=0)
    plain = extensions(await post(api))
    debug = extensions(await post(api, DEBUG))
    other_value = extensions(await post(api, {"X-Matchgraph-Debug": "true"}))
    assert set(plain) == set(other_value) == {"dataVersion", "cost"}
    # planned: answered from column gathers, no loader ran
    assert debug == {
        "dataVersion": plain["dataVersion"],
        "cost": plain["cost"],
        "plan": {"matches": "planned"},
        "loaderBatches": {},
    }


async def test_without_the_planner_graphql_core_batches_each_field_kind_once(
    serve: ServeFactory, data_dir: Path
) -> None:
    api = serve(data_dir=data_dir, response_cache_mb=0, planner=False)
    debug = extensions(await post(api, DEBUG))
    assert debug["plan"] == {}
    assert debug["loaderBatches"] == {"prediction": 1}


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"env": "production", "header_token": KEY}, id="production-default"),
        pytest.param({"debug_extensions": False}, id="local-turned-off"),
    ],
)
async def test_the_header_is_ignored_where_the_setting_refuses(
    serve: ServeFactory, data_dir: Path, overrides: dict[str, Any]
) -> None:
    api = serve(data_dir=data_dir, headers={"X-API-Key": KEY}, **overrides)
    first, second = await post(api, DEBUG), await post(api, DEBUG)
    assert set(extensions(first)) == set(extensions(second)) == {"dataVersion", "cost"}
    # Refused, the header changes nothing: the response cache answers as usual.
    assert (first.headers["x-matchgraph-cache"], second.headers["x-matchgraph-cache"]) == (
        "miss",
        "hit",
    )


async def test_production_may_turn_it_on(serve: ServeFactory, data_dir: Path) -> None:
    api = serve(
        data_dir=data_dir, headers={"X-API-Key": KEY}, env="production", header_token=KEY,
        debug_extensions=True,
    )  # fmt: skip
    assert "loaderBatches" in extensions(await post(api, DEBUG))
    assert "loaderBatches" not in extensions(await post(api))


async def test_a_cache_hit_never_carries_loader_batches(
    serve: ServeFactory, data_dir: Path
) -> None:
    api = serve(data_dir=data_dir)
    debug_first = await post(api, DEBUG)  # answered uncached: stores nothing
    miss, hit = await post(api), await post(api)
    debug_later = await post(api, DEBUG)  # never answered from the cache either
    hit_again = await post(api)
    assert "x-matchgraph-cache" not in debug_first.headers
    assert "x-matchgraph-cache" not in debug_later.headers
    assert "loaderBatches" in extensions(debug_first)
    assert "loaderBatches" in extensions(debug_later)
    assert miss.headers["x-matchgraph-cache"] == "miss"
    assert hit.headers["x-matchgraph-cache"] == hit_again.headers["x-matchgraph-cache"] == "hit"
    assert hit.content == hit_again.content == miss.content
    assert b"loaderBatches" not in hit.content
    assert set(extensions(hit)) == {"dataVersion", "cost"}
    assert extensions(hit)["dataVersion"] == extensions(debug_later)["dataVersion"]
