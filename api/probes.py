"""`/`, `/health` and `/ready`: for people, load balancers and Kubernetes."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.drain import Drain
from graph.health import VERSION, current_health, degraded_parts
from graph.services import Services
from graph.sources.snapshots import Sources, TableStatus


def _sources(request: Request) -> Sources:
    sources: Sources = request.app.state.sources
    return sources


def _drain(request: Request) -> Drain:
    drain: Drain = request.app.state.drain
    return drain


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def root(request: Request) -> Response:
    return JSONResponse(
        {
            "service": "matchgraph",
            "version": VERSION,
            "links": {
                "graphql": "/graphql",
                "health": "/health",
                "ready": "/ready",
                "metrics": "/metrics",
            },
        }
    )


async def health(request: Request) -> Response:
    checks = _services(request).health_checks
    payload = dataclasses.asdict(current_health(_sources(request), checks))
    payload["memoryMb"] = payload.pop("memory_mb")
    payload["dataVersion"] = payload.pop("data_version")
    return JSONResponse(payload)


async def ready(request: Request) -> Response:
    """503 until every source that exists has been loaded once, and again from SIGTERM on
    (draining: load balancers stop routing here, api/drain.py); lists what is degraded."""
    statuses = _sources(request).status()
    draining = _drain(request).draining
    is_ready = all(s.loaded for s in statuses) and not draining
    body = {
        "status": "draining" if draining else "ready" if is_ready else "not ready",
        "missing": [s.source for s in statuses if not s.loaded],
        "degraded": degraded_parts(_sources(request), _services(request).health_checks),
        "sources": [_source_json(s) for s in statuses],
    }
    return JSONResponse(body, status_code=200 if is_ready else 503)


def _source_json(status: TableStatus) -> dict[str, Any]:
    return {
        "name": status.name,
        "source": status.source,
        "present": status.present,
        "loaded": status.loaded,
        "rows": status.rows,
        "modifiedAt": status.modified_at.isoformat() if status.modified_at else None,
        "error": status.error,
    }
