"""Drift status and Evidently reports through the real API over HTTP (local and S3)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.reports import REPORT_CSP
from graph.sources.s3 import S3Storage
from tests.fixtures.server import LiveServer, ServeFactory

DRIFT_KEY = "reports/drift/latest.json"
EVIDENTLY = "reports/evidently"
DRIFT_QUERY = """{ drift {
  computedAt datasetDrift driftedFeatures shareDrifted method pThreshold referenceRows currentRows
  features { name statistic pValue drifted referenceMean currentMean } } }"""
REPORTS_QUERY = "{ reports { filename lastModified url } }"
GOOD = {
    "computed_at": "2025-06-01T09:30:00+00:00",
    "dataset_drift": False,
    "share_drifted": 0.25,
    "drifted_features": ["diff_goals_w5"],
    "features": {
        "diff_goals_w5": {"statistic": 0.31, "p_value": 0.001, "drifted": True},
        "diff_shots_w5": {"statistic": 0.02, "p_value": 0.9, "drifted": False},
    },
}


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def _write(root: Path, relative: str, data: bytes, *, mtime: float | None = None) -> Path:
    """Write atomically, as the pipeline does; optionally date the file."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-test")
    tmp.write_bytes(data)
    tmp.replace(path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _write_drift(root: Path, doc: dict[str, Any] | bytes) -> None:
    _write(root, DRIFT_KEY, doc if isinstance(doc, bytes) else json.dumps(doc).encode())


def _iso(value: str) -> str:
    """A DateTime as the API serves it: UTC with +00:00."""
    return datetime.fromisoformat(value).astimezone(UTC).isoformat()


async def _drift(api: LiveServer) -> dict[str, Any] | None:
    drift: dict[str, Any] | None = (await api.data(DRIFT_QUERY))["drift"]
    return drift


async def _ready(api: LiveServer) -> httpx.Response:
    async with api.client() as client:
        return await client.get("/ready")


def _drift_source(ready: httpx.Response) -> dict[str, Any]:
    source: dict[str, Any] = next(s for s in ready.json()["sources"] if s["source"] == DRIFT_KEY)
    return source


async def _raw_get(api: LiveServer, target: str, headers: dict[str, str] | None = None) -> int:
    """GET with the request target sent byte for byte (clients normalise `..` away)."""
    host, port = api.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    extra = "".join(f"{k}: {v}\r\n" for k, v in {**api.headers, **(headers or {})}.items())
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


# --- drift ---------------------------------------------------------------------------------


async def test_drift_is_the_demo_latest_json(api: LiveServer, demo_dir: Path) -> None:
    doc = json.loads((demo_dir / DRIFT_KEY).read_text())
    drift = await _drift(api)
    assert drift == {
        "computedAt": _iso(doc["computed_at"]),
        "datasetDrift": doc["dataset_drift"],
        "driftedFeatures": doc["drifted_features"],
        "shareDrifted": doc["share_drifted"],
        "method": doc["method"],
        "pThreshold": doc["p_threshold"],
        "referenceRows": doc["reference_rows"],
        "currentRows": doc["current_rows"],
        "features": [
            {
                "name": name,
                "statistic": stats["statistic"],
                "pValue": stats["p_value"],
                "drifted": stats["drifted"],
                "referenceMean": stats["reference_mean"],
                "currentMean": stats["current_mean"],
            }
            for name, stats in doc["features"].items()
        ],
    }
    assert drift["features"] and drift["computedAt"].endswith("+00:00")
    source = _drift_source(await _ready(api))
    assert (source["present"], source["loaded"], source["rows"], source["error"]) == (
        True,
        True,
        1,
        None,
    )


async def test_missing_drift_is_null_and_nothing_is_listed(
    serve: ServeFactory, tmp_path: Path
) -> None:
    api = serve(data_dir=tmp_path)
    assert await api.data("{ drift { datasetDrift } reports { filename } }") == {
        "drift": None,
        "reports": [],
    }
    ready = await _ready(api)
    assert ready.status_code == 200
    assert _drift_source(ready)["present"] is False


async def test_optional_keys_may_be_absent(serve: ServeFactory, tmp_path: Path) -> None:
    _write_drift(tmp_path, {"dataset_drift": True})
    api = serve(data_dir=tmp_path)
    drift = await _drift(api)
    assert drift is not None
    written = datetime.fromtimestamp((tmp_path / DRIFT_KEY).stat().st_mtime, tz=UTC)
    assert drift["computedAt"] == written.isoformat()  # no computed_at: when it was written
    assert (drift["datasetDrift"], drift["driftedFeatures"], drift["features"]) == (True, [], [])
    assert drift["shareDrifted"] is None and drift["method"] is None


async def test_invalid_latest_json_keeps_the_last_good_drift(
    serve: ServeFactory, tmp_path: Path
) -> None:
    _write_drift(tmp_path, GOOD)
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    good = await _drift(api)
    assert good is not None and good["driftedFeatures"] == ["diff_goals_w5"]
    assert good["computedAt"] == "2025-06-01T09:30:00+00:00"
    assert [f["name"] for f in good["features"]] == ["diff_goals_w5", "diff_shots_w5"]

    broken: list[tuple[bytes | dict[str, Any], str]] = [
        (b'{"dataset_drift": tru', "unreadable JSON"),
        (b"[1, 2]", "expected a JSON object"),
        ({"share_drifted": 0.5}, "missing required keys dataset_drift"),
        ({**GOOD, "dataset_drift": "yes"}, "dataset_drift"),
        ({**GOOD, "computed_at": "yesterday"}, "computed_at"),
        ({**GOOD, "features": {"diff_goals_w5": {"p_value": "low"}}}, "p_value"),
    ]
    for content, message in broken:
        _write_drift(tmp_path, content)

        async def reported(message: str = message) -> bool:
            ready = await _ready(api)
            return message in (_drift_source(ready)["error"] or "")

        await _eventually(reported)
        ready = await _ready(api)
        assert ready.status_code == 200  # loaded once: still serving, degraded
        assert any(d.startswith(DRIFT_KEY) for d in ready.json()["degraded"])
        assert await _drift(api) == good

    _write_drift(tmp_path, {**GOOD, "dataset_drift": True, "drifted_features": []})

    async def fixed() -> bool:
        drift = await _drift(api)
        return drift is not None and drift["datasetDrift"] is True

    await _eventually(fixed)
    ready = await _ready(api)
    assert _drift_source(ready)["error"] is None
    # no worker serves this API: only that may be listed
    assert all(d.startswith("workers:") for d in ready.json()["degraded"])


async def test_drift_is_cached_with_the_data_version(serve: ServeFactory, tmp_path: Path) -> None:
    _write_drift(tmp_path, GOOD)
    api = serve(data_dir=tmp_path, refresh_seconds=0.2)
    query = {"query": "{ drift { datasetDrift } }"}
    async with api.client() as client:
        first = await client.post("/graphql", json=query)
        second = await client.post("/graphql", json=query)
    assert second.headers.get("x-matchgraph-cache") == "hit"
    assert second.content == first.content
    _write_drift(tmp_path, {**GOOD, "dataset_drift": True})

    async def refreshed() -> bool:
        drift = await _drift(api)
        return drift is not None and drift["datasetDrift"] is True

    await _eventually(refreshed)  # a new data version: the cached answer is not served


# --- reports over local storage -------------------------------------------------------------


async def test_demo_reports_are_listed_newest_first_and_open(
    api: LiveServer, demo_dir: Path
) -> None:
    files = sorted(
        (demo_dir / EVIDENTLY).glob("*.html"), key=lambda p: p.stat().st_mtime_ns, reverse=True
    )
    assert len(files) == 2
    reports = (await api.data(REPORTS_QUERY))["reports"]
    assert [r["filename"] for r in reports] == [p.name for p in files]
    async with api.client() as client:
        for report, path in zip(reports, files, strict=True):
            modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
            assert report["lastModified"] == modified.isoformat()
            assert report["url"] == f"{api.url}/reports/{path.name}"
            response = await client.get(report["url"])
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            assert response.headers["content-security-policy"] == REPORT_CSP
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.content == path.read_bytes()


def test_demo_reports_need_nothing_the_csp_forbids(demo_dir: Path) -> None:
    """default-src 'none' with inline styles and data: images: no scripts, nothing fetched."""
    for path in (demo_dir / EVIDENTLY).glob("*.html"):
        html = path.read_text()
        assert (
            re.search(r"<(script|link|iframe|object|embed|img|video|audio|source)\b", html, re.I)
            is None
        )
        assert re.search(r"\b(src|href|xlink:href|action)\s*=", html, re.I) is None
        assert re.search(r"url\(|@import|@font-face|\bon[a-z]+\s*=", html, re.I) is None
        assert "<style>" in html  # inline CSS (and inline SVG) only


async def test_listing_order_and_what_counts_as_a_report(
    serve: ServeFactory, tmp_path: Path
) -> None:
    now = time.time()
    _write(tmp_path, f"{EVIDENTLY}/old.html", b"<p>old</p>", mtime=now - 300)
    _write(tmp_path, f"{EVIDENTLY}/new.html", b"<p>new</p>", mtime=now - 10)
    _write(tmp_path, f"{EVIDENTLY}/middle report.html", b"<p>mid</p>", mtime=now - 100)
    _write(tmp_path, f"{EVIDENTLY}/notes.txt", b"not a report", mtime=now)
    _write(tmp_path, f"{EVIDENTLY}/nested/deep.html", b"<p>nested</p>", mtime=now)
    _write(tmp_path, f"{EVIDENTLY}/.hidden.html", b"<p>hidden</p>", mtime=now)
    api = serve(data_dir=tmp_path)
    reports = (await api.data(REPORTS_QUERY))["reports"]
    assert [r["filename"] for r in reports] == ["new.html", "middle report.html", "old.html"]
    assert reports[1]["url"] == f"{api.url}/reports/middle%20report.html"
    async with api.client() as client:
        response = await client.get(reports[1]["url"])
        head = await client.head(reports[0]["url"])
    assert response.status_code == 200 and response.content == b"<p>mid</p>"
    assert head.status_code == 200 and head.headers["content-length"] == "10"


async def test_the_listing_is_never_served_from_the_response_cache(
    serve: ServeFactory, tmp_path: Path
) -> None:
    _write_drift(tmp_path, GOOD)
    _write(tmp_path, f"{EVIDENTLY}/a.html", b"<p>a</p>", mtime=time.time() - 60)
    api = serve(data_dir=tmp_path)
    async with api.client() as client:

        async def ask(query: str) -> httpx.Response:
            response = await client.post("/graphql", json={"query": query})
            assert response.status_code == 200 and "errors" not in response.json()
            return response

        for query in (REPORTS_QUERY, "{ drift { datasetDrift } reports { filename } }"):
            for _ in range(3):
                assert "x-matchgraph-cache" not in (await ask(query)).headers
        before = (await ask(REPORTS_QUERY)).json()
        _write(tmp_path, f"{EVIDENTLY}/b.html", b"<p>b</p>")
        after = (await ask(REPORTS_QUERY)).json()
    # a new report shows at once, on the same data version
    assert [r["filename"] for r in after["data"]["reports"]] == ["b.html", "a.html"]
    assert after["extensions"]["dataVersion"] == before["extensions"]["dataVersion"]


BAD_NAMES = [
    "/reports/../x.html",
    "/reports/%2e%2e%2fx.html",
    "/reports/..%2Fx.html",
    "/reports/a/b.html",
    "/reports/a%2Fb.html",
    "/reports/a%5Cb.html",
    "/reports/x%00.html",
    "/reports/..",
    "/reports/x.txt",
    "/reports/.hidden.html",
    "/reports/",
]


@pytest.mark.parametrize("target", BAD_NAMES)
async def test_bad_names_are_rejected(api: LiveServer, target: str) -> None:
    assert await _raw_get(api, target) == 400


async def test_unknown_report_is_404(api: LiveServer) -> None:
    async with api.client() as client:
        response = await client.get("/reports/nope.html")
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_reports_need_the_api_key(serve: ServeFactory, demo_dir: Path) -> None:
    api = serve(data_dir=demo_dir, header_token="s3cret-key")
    name = next((demo_dir / EVIDENTLY).glob("*.html")).name
    async with api.client() as client:
        refused = await client.get(f"/reports/{name}")
        allowed = await client.get(f"/reports/{name}", headers={"X-API-Key": "s3cret-key"})
    assert refused.status_code == 401
    assert allowed.status_code == 200


# --- S3 ------------------------------------------------------------------------------------


def _serve_s3(serve: ServeFactory, endpoint: str, **overrides: Any) -> LiveServer:
    return serve(
        storage="s3",
        minio_endpoint_url=endpoint,
        minio_access_key="test",
        minio_secret_key="test",
        **overrides,
    )


async def test_reports_over_s3_are_presigned(
    serve: ServeFactory, s3_storage: S3Storage, s3_endpoint: str
) -> None:
    await s3_storage.put_text("reports", "evidently/first.html", "<p>first</p>")
    await asyncio.sleep(1.1)  # S3 LastModified has one-second resolution
    await s3_storage.put_text("reports", "evidently/second.html", "<p>second ⚽</p>")
    await s3_storage.put_json("reports", "drift/latest.json", GOOD)
    api = _serve_s3(serve, s3_endpoint)
    data = await api.data(f"{{ drift {{ datasetDrift driftedFeatures }} {REPORTS_QUERY[1:]}")
    assert data["drift"] == {"datasetDrift": False, "driftedFeatures": ["diff_goals_w5"]}
    reports = data["reports"]
    assert [r["filename"] for r in reports] == ["second.html", "first.html"]
    assert reports[0]["lastModified"] > reports[1]["lastModified"]
    async with httpx.AsyncClient() as s3, api.client() as client:
        for report in reports:
            url = report["url"]
            assert url.startswith(f"{s3_endpoint}/reports/evidently/{report['filename']}?")
            assert "X-Amz-Signature=" in url and "X-Amz-Expires=3600" in url
            downloaded = await s3.get(url)
            assert downloaded.status_code == 200
            stored = await s3_storage.get_bytes("reports", f"evidently/{report['filename']}")
            assert downloaded.content == stored
        redirect = await client.get("/reports/second.html")
        assert redirect.status_code == 307
        location = redirect.headers["location"]
        assert location.startswith(f"{s3_endpoint}/reports/evidently/second.html?")
        assert (await s3.get(location)).content == "<p>second ⚽</p>".encode()
        assert (await client.get("/reports/missing.html")).status_code == 404
    assert await _raw_get(api, "/reports/%2e%2e%2fx.html") == 400


async def test_storage_outage_is_service_unavailable(serve: ServeFactory) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    api = _serve_s3(serve, dead)
    body = await api.graphql("{ reports { filename } }")
    assert body["data"] is None  # `reports` is non-null: its error nulls the parent
    [error] = body["errors"]
    assert error["path"] == ["reports"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "cannot be reached" in error["message"]
    assert await api.data("{ drift { datasetDrift } }") == {"drift": None}
    async with api.client() as client:
        response = await client.get("/reports/x.html")
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
