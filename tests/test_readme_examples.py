"""The README's read examples return data on the demo set that `matchgraph up` writes.

`up` runs the demo with its default seed; its calendar ends at that seed's
fixed "now" (never the wall clock), so a month the README names must lie
before it. The set here is smaller than `up`'s (2000 matches, not 20000):
the last weeks before "now" are finished matches whatever the size.
"""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graph.settings import Settings
from tests.fixtures.demo import demo_settings_for
from tests.fixtures.server import LiveServer, ServeFactory

README = Path(__file__).resolve().parents[1] / "README.md"
QUERIES = [b for b in re.findall(r"```graphql\n(.*?)```", README.read_text(), re.S) if b[0] == "{"]


def _block(marker: str) -> str:
    found = [query for query in QUERIES if marker in query]
    assert len(found) == 1, marker
    return found[0]


@pytest.fixture(scope="module")
def up_demo(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from jobs.demo.pipeline import run_demo

    data_dir = tmp_path_factory.mktemp("readme-demo")
    settings = demo_settings_for(data_dir).model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{data_dir / 'livescores.sqlite'}"}
    )
    summary = run_demo(settings, matches=2000, show_progress=False)  # `up`'s seed
    assert summary.live_scores > 0
    return settings


@pytest.fixture(scope="module")
def readme_api(serve: ServeFactory, up_demo: Settings) -> LiveServer:
    with socket.socket() as sock:  # nothing listens there: these reads need no Redis
        sock.bind(("127.0.0.1", 0))
        dead_redis = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    return serve(data_dir=up_demo.data_dir, database_url=up_demo.database_url, redis_url=dead_redis)


def test_the_readme_names_the_demo_now_of_the_default_seed() -> None:
    from api.cli import _parser
    from jobs.demo.world import reference_now

    seed = _parser().parse_args(["demo"]).seed
    now = reference_now(seed)
    assert now.date().isoformat() == "2026-10-26" and now.weekday() == 0  # a Monday
    assert "Monday 2026-10-26 with the default seed" in " ".join(README.read_text().split())


@pytest.mark.parametrize("index", range(len(QUERIES)))
async def test_every_read_example_answers_without_errors(
    readme_api: LiveServer, index: int
) -> None:
    body = await readme_api.graphql(QUERIES[index])
    assert not body.get("errors"), body["errors"]
    assert all(value not in (None, []) for value in body["data"].values()), body["data"]


async def test_the_first_query_returns_upcoming_matches(readme_api: LiveServer) -> None:
    data = await readme_api.data(_block("matches(first: 5, futureOnly: true)"))
    nodes = [edge["node"] for edge in data["matches"]["edges"]]
    assert len(nodes) == 5
    assert all(node["prediction"] and node["region"]["roi"] for node in nodes)


async def test_the_livescores_example_returns_rows(readme_api: LiveServer) -> None:
    query = _block("livescores(")
    data = await readme_api.data(query)
    example = re.search(r"livescores\(year: (\d+), month: (\d+), limit: (\d+)\)", query)
    assert example is not None
    year, month, limit = (int(group) for group in example.groups())
    rows = data["livescores"]
    assert len(rows) == limit
    for row in rows:
        start = datetime.fromisoformat(row["startTimeUtc"]).astimezone(UTC)
        assert (start.year, start.month, row["status"]) == (year, month, "FT")
    scores = [edge["node"]["liveScore"] for edge in data["matches"]["edges"]]
    assert len(scores) == 50 and all(scores)  # the oldest matches: all finished


async def test_team_matches_a_whole_name_case_insensitively(readme_api: LiveServer) -> None:
    """The README's own example: `team: "fc eindhoven"` finds them, "eindhoven" does not."""
    text = " ".join(README.read_text().split())
    assert '`team: "fc eindhoven"` finds FC Eindhoven' in text
    assert '`team: "eindhoven"` finds none' in text
    query = "query($t: String!) { matches(first: 1, team: $t) { totalCount } }"

    async def count(team: str) -> Any:
        return (await readme_api.data(query, {"t": team}))["matches"]["totalCount"]

    assert await count("fc eindhoven") == await count("FC EINDHOVEN") > 0
    assert await count("eindhoven") == 0
