"""Absolute URLs come from settings, never from the request; presigned ones are public."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from graph.settings import Settings
from graph.sources.s3 import S3Storage
from tests.fixtures.server import LiveServer, ServeFactory

REPORTS = "{ reports { filename url } }"
SPOOFED = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example"}


async def _reports(api: LiveServer, **kwargs: object) -> list[dict[str, str]]:
    body = await api.graphql(REPORTS, **kwargs)
    assert "errors" not in body, body["errors"]
    reports: list[dict[str, str]] = body["data"]["reports"]
    assert reports
    return reports


async def test_a_spoofed_host_header_does_not_change_report_urls(
    serve: ServeFactory, demo_dir: Path
) -> None:
    api = serve(data_dir=demo_dir)
    honest = await _reports(api)
    spoofed = await _reports(api, headers=SPOOFED)
    assert spoofed == honest
    assert all(r["url"] == f"{api.url}/reports/{r['filename']}" for r in spoofed)


async def test_report_urls_use_the_public_url(serve: ServeFactory, demo_dir: Path) -> None:
    api = serve(data_dir=demo_dir, public_url="https://matchgraph.example.org/api/")
    for report in await _reports(api, headers=SPOOFED):
        assert report["url"] == f"https://matchgraph.example.org/api/reports/{report['filename']}"


def test_public_url_defaults() -> None:
    assert Settings().effective_public_url == "http://127.0.0.1:8000"
    assert Settings(host="0.0.0.0", port=9000).effective_public_url == "http://127.0.0.1:9000"
    assert Settings(host="::", port=80).effective_public_url == "http://[::1]:80"
    production = Settings(env="production", header_token="a-real-key-for-tests")
    assert production.effective_public_url is None  # links stay root-relative
    with pytest.raises(ValueError, match="absolute"):
        Settings(public_url="matchgraph.example.org")


async def test_presigned_urls_point_at_the_public_endpoint(
    serve: ServeFactory, s3_storage: S3Storage, s3_endpoint: str
) -> None:
    """The API reaches S3 at MINIO_ENDPOINT_URL; browsers get URLs signed for
    MINIO_PUBLIC_ENDPOINT_URL (here the same moto server under another host name)."""
    await s3_storage.put_text("reports", "evidently/public.html", "<p>public</p>")
    port = urlsplit(s3_endpoint).port
    public = f"http://localhost:{port}"
    api = serve(
        storage="s3",
        minio_endpoint_url=s3_endpoint,
        minio_access_key="test",
        minio_secret_key="test",
        minio_public_endpoint_url=public,
    )
    (report,) = await _reports(api, headers=SPOOFED)
    assert report["url"].startswith(f"{public}/reports/evidently/public.html?")
    async with httpx.AsyncClient() as browser, api.client() as client:
        downloaded = await browser.get(report["url"])  # signed for the host it names
        redirect = await client.get("/reports/public.html")
    assert downloaded.status_code == 200 and downloaded.text == "<p>public</p>"
    assert redirect.status_code == 307
    assert redirect.headers["location"].startswith(f"{public}/reports/evidently/public.html?")


async def test_presigning_makes_no_call_to_the_public_endpoint() -> None:
    """Signing is offline: an endpoint nobody listens on still gives a URL at once."""
    storage = S3Storage(
        endpoint_url="http://127.0.0.1:9",
        public_endpoint_url="https://s3.example.org",
        access_key="test",
        secret_key="test",
    )
    async with storage:
        url = await asyncio.wait_for(storage.presigned_url("reports", "evidently/x.html"), 5)
    assert url is not None and url.startswith("https://s3.example.org/reports/evidently/x.html?")
    assert "X-Amz-Signature=" in url
