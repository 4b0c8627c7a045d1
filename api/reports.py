"""`GET /reports/{filename}`: open one Evidently HTML report.

S3: 307 to a presigned URL (one hour). Local storage: the service streams the
file itself, as `text/html` under a CSP that allows inline styles and data:
images only (the reports are generated HTML; they need no scripts and
fetch nothing). Only plain `*.html` names are accepted (400 otherwise); an
unknown report is 404. Auth is the API key, like every non-probe path.
"""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from graph.errors import Code, error_body
from graph.reports import PRESIGNED_SECONDS, report_key, report_name_problem
from graph.sources.errors import ObjectNotFound
from graph.sources.local import LocalStorage
from graph.sources.snapshots import Sources
from graph.sources.storage import Storage
from graph.sources.tables import REPORTS_BUCKET

log = logging.getLogger(__name__)

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
HTML = "text/html; charset=utf-8"
REPORT_HEADERS = {
    "content-security-policy": REPORT_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "private, no-cache",
}


def _error(status: int, message: str, code: Code) -> Response:
    body = orjson.dumps(error_body(message, code))
    return Response(body, status, media_type="application/json")


def _storage(request: Request) -> Storage:
    sources: Sources = request.app.state.sources
    return sources.storage


async def open_report(request: Request) -> Response:
    name: str = request.path_params["filename"]
    problem = report_name_problem(name)
    if problem is not None:
        return _error(400, f"invalid report name: {problem}", Code.BAD_USER_INPUT)
    storage, key = _storage(request), report_key(name)
    try:
        stat = await storage.stat(REPORTS_BUCKET, key)
        if stat is None:
            return _error(404, f"no report named {name!r}", Code.NOT_FOUND)
        url = await storage.presigned_url(REPORTS_BUCKET, key, expires=PRESIGNED_SECONDS)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers={"cache-control": "no-store"})
        if isinstance(storage, LocalStorage):  # streamed from disk in chunks
            path = storage.path(REPORTS_BUCKET, key)
            return FileResponse(path, media_type=HTML, headers=REPORT_HEADERS)
        # A backend that can neither sign URLs nor hand out a file: send the bytes.
        data = await storage.get_bytes(REPORTS_BUCKET, key)
    except ObjectNotFound:
        return _error(404, f"no report named {name!r}", Code.NOT_FOUND)
    except Exception as exc:  # storage outage
        log.warning("opening report %s failed: %s: %s", name, type(exc).__name__, exc)
        return _error(503, "the report storage cannot be reached", Code.SERVICE_UNAVAILABLE)
    return Response(data, media_type=HTML, headers=REPORT_HEADERS)
