"""`matchgraph up` says which Redis it uses: where (no password), started or joined, namespace."""

from __future__ import annotations

import pytest

from api.local_stack import describe_redis, local_redis, redacted_url
from graph.settings import Settings
from tests.fixtures.worker import OwnRedis


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@127.0.0.1:6379/2", "redis://:***@127.0.0.1:6379/2"),
        ("rediss://app:p%40ss@redis.internal:6380/1", "rediss://app:***@redis.internal:6380/1"),
        ("redis://app@127.0.0.1/0", "redis://app@127.0.0.1/0"),
        ("unix:///run/redis.sock?db=3&password=s3cret", "unix:///run/redis.sock?db=3&password=***"),
    ],
)
def test_the_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


def test_the_description_names_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MATCHGRAPH_REDIS_NAMESPACE", raising=False)
    settings = Settings(redis_url="redis://:s3cret@127.0.0.1:6379/3")
    assert describe_redis(settings) == "redis://:***@127.0.0.1:6379/3, namespace matchgraph:db3"
    named = Settings(redis_url="redis://127.0.0.1:6379/0", redis_namespace="alice")
    assert describe_redis(named) == "redis://127.0.0.1:6379/0, namespace alice"


def test_up_says_it_joined_a_running_redis(
    own_redis: OwnRedis, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MATCHGRAPH_REDIS_NAMESPACE", raising=False)
    url = f"redis://127.0.0.1:{own_redis.port}/5"
    with local_redis(Settings(redis_url=url)):
        said = capsys.readouterr().out
    assert said == (
        f"Redis: joined the one already running at {url}, namespace matchgraph:db5"
        " (`up` will not stop it)\n"
    )
    assert own_redis.process.poll() is None  # joined, so left running
