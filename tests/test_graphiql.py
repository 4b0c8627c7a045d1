"""GraphiQL's page and its vendored assets, served by the service itself."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL

from api.graphiql import (
    GRAPHIQL_CSP,
    GRAPHIQL_STATIC_DIR,
    GRAPHIQL_STATIC_PATH,
    STARTER_QUERY,
    cdn_assets,
    graphiql_html,
    graphiql_response,
    graphiql_static_app,
    local_assets,
    upstream_html,
    with_starter_query,
)

_TAG = re.compile(r"""<(?:script|link)\b(?:[^>"']|"[^"]*"|'[^']*')*>""")
_URL_ATTR = re.compile(r'\b(?:src|href)="([^"]+)"')
_INTEGRITY = re.compile(r'\bintegrity="sha384-([^"]+)"')
_EXAMPLE = re.compile(r"const EXAMPLE_QUERY = `(.*?)`;", re.DOTALL)
README = Path(__file__).resolve().parents[1] / "README.md"


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[str] = []
        self._inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inline = tag == "script" and "src" not in dict(attrs)
        if self._inline:
            self.bodies.append("")

    def handle_endtag(self, tag: str) -> None:
        self._inline = False

    def handle_data(self, data: str) -> None:
        if self._inline:
            self.bodies[-1] += data


def _directives(csp: str) -> dict[str, list[str]]:
    parts = (d.split() for d in csp.split(";") if d.strip())
    return {name: sources for name, *sources in parts}


def test_page_loads_nothing_from_other_hosts() -> None:
    html = graphiql_html()
    urls = [url for tag in _TAG.findall(html) for url in _URL_ATTR.findall(tag)]
    assert urls
    assert not [u for u in urls if u.startswith(("http://", "https://", "//"))]
    assert "integrity=" not in html
    assert "crossorigin" not in html


def test_only_asset_tags_and_the_starter_query_change() -> None:
    upstream, ours = upstream_html(), graphiql_html()
    starter = with_starter_query(upstream)
    assert _TAG.sub("<tag>", starter) == _TAG.sub("<tag>", ours)
    assert _EXAMPLE.sub("<example>", upstream) == _EXAMPLE.sub("<example>", starter)
    assert len(local_assets(ours)) == len(cdn_assets(upstream)) == 7


def _example(html: str) -> str:
    found = _EXAMPLE.search(html)
    assert found is not None
    return found[1]


def test_the_editor_opens_on_the_readme_first_query() -> None:
    assert "Welcome to GraphiQL" in _example(upstream_html())
    assert _example(graphiql_html()) == STARTER_QUERY
    first = re.search(r"## A first query.*?```graphql\n(.*?)```", README.read_text(), re.DOTALL)
    assert first is not None
    assert first[1] in STARTER_QUERY  # verbatim: README and IDE show the same query
    query = "\n".join(line for line in STARTER_QUERY.splitlines() if not line.startswith("#"))
    assert query.strip() == first[1].strip()


def test_the_starter_query_tells_where_the_api_key_goes() -> None:
    comments = [line for line in STARTER_QUERY.splitlines() if line.startswith("#")]
    assert '#   {"X-API-Key": "..."}' in comments
    assert any("Headers pane" in line for line in comments)


def test_the_starter_query_is_safe_in_a_template_literal() -> None:
    for unsafe in ("`", "${", "\\", "</"):
        assert unsafe not in STARTER_QUERY, unsafe


def test_every_referenced_asset_is_vendored() -> None:
    assets = local_assets(graphiql_html())
    assert {a.rsplit(".", 1)[-1] for a in assets} == {"js", "css"}
    for asset in assets:
        assert (GRAPHIQL_STATIC_DIR / asset).is_file(), asset


def test_vendored_files_are_the_ones_strawberry_pins() -> None:
    # Strawberry's page carries an SRI hash for each CDN file: the vendored
    # copies must be byte-identical to what it would have loaded.
    pinned = {}
    for tag in _TAG.findall(upstream_html()):
        if (integrity := _INTEGRITY.search(tag)) and (url := _URL_ATTR.search(tag)):
            pinned[url[1].split("/", 3)[3]] = integrity[1]
    assert sorted(pinned) == sorted(cdn_assets(upstream_html()))
    for asset, expected in pinned.items():
        digest = hashlib.sha384((GRAPHIQL_STATIC_DIR / asset).read_bytes()).digest()
        assert base64.b64encode(digest).decode() == expected, asset


def _package(asset: str) -> str:
    """``@graphiql/plugin-explorer@1.0.2/dist/x.js`` -> ``graphiql-plugin-explorer``."""
    segments = 2 if asset.startswith("@") else 1
    spec = "/".join(asset.split("/")[:segments])
    return spec.rsplit("@", 1)[0].lstrip("@").replace("/", "-")


def test_licences_kept() -> None:
    packages = {_package(a) for a in local_assets(graphiql_html())}
    assert packages == {"react", "react-dom", "js-cookie", "graphiql", "graphiql-plugin-explorer"}
    for package in packages:
        assert (GRAPHIQL_STATIC_DIR / f"LICENSE.{package}.txt").is_file(), package
    assert (GRAPHIQL_STATIC_DIR / "README.md").is_file()


def test_csp_hashes_the_inline_script() -> None:
    parser = _InlineScripts()
    parser.feed(graphiql_html())
    assert len(parser.bodies) == 1
    digest = hashlib.sha256(parser.bodies[0].encode()).digest()
    expected = f"'sha256-{base64.b64encode(digest).decode()}'"
    directives = _directives(GRAPHIQL_CSP)
    assert directives["script-src"] == ["'self'", expected]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]


def test_csp_allows_no_other_host() -> None:
    allowed = {"'self'", "'none'", "data:", "'unsafe-inline'"}
    for name, sources in _directives(GRAPHIQL_CSP).items():
        extra = [s for s in sources if s not in allowed and not s.startswith("'sha256-")]
        assert not extra, name
        if name != "style-src":
            assert "'unsafe-inline'" not in sources, name


@strawberry.type
class _Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


class _View(GraphQL[None, None]):
    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_response()


def _app() -> Starlette:
    view = _View(strawberry.Schema(query=_Query))
    return Starlette(
        routes=[
            Route("/graphql", view),
            Mount(GRAPHIQL_STATIC_PATH, app=graphiql_static_app()),
        ]
    )


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app(), log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn exited"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_page_served_with_csp(base_url: str) -> None:
    response = httpx.get(f"{base_url}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == GRAPHIQL_CSP
    assert response.text == graphiql_html()


def test_assets_served(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        for asset in local_assets(graphiql_html()):
            response = client.get(f"{GRAPHIQL_STATIC_PATH}/{asset}")
            assert response.status_code == 200, asset
            kind = "javascript" if asset.endswith(".js") else "text/css"
            assert kind in response.headers["content-type"], asset
            assert response.content == (GRAPHIQL_STATIC_DIR / asset).read_bytes()


def test_page_fetcher_reaches_the_schema(base_url: str) -> None:
    response = httpx.post(f"{base_url}/graphql", json={"query": "{ hello }"})
    assert response.json() == {"data": {"hello": "world"}}


@pytest.mark.parametrize(
    "path", ["missing.js", "..%2Fgraphiql.py", "react@18.2.0/../../../graphiql.py"]
)
def test_nothing_else_served(base_url: str, path: str) -> None:
    response = httpx.get(f"{base_url}{GRAPHIQL_STATIC_PATH}/{path}")
    assert response.status_code == 404
