"""Our API wrapped in cProfile, for `bench.profile` (requests must be sequential).

Profiling is on only while a /graphql request is being served;
`POST /__bench/profile?action=reset` starts a fresh profile and
`?action=dump` writes it to $BENCH_PROFILE_OUT.
"""

from __future__ import annotations

import cProfile
import os
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app as create_api

CONTROL_PATH = "/__bench/profile"


class Profiled:
    def __init__(self, app: ASGIApp, out: str) -> None:
        self.app = app
        self.out = out
        self.profiler = cProfile.Profile()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] == CONTROL_PATH:
            await self._control(scope, send)
        elif scope["path"] == "/graphql":
            self.profiler.enable()
            try:
                await self.app(scope, receive, send)
            finally:
                self.profiler.disable()
        else:
            await self.app(scope, receive, send)

    async def _control(self, scope: Scope, send: Send) -> None:
        action = scope.get("query_string", b"").decode().partition("action=")[2]
        if action == "reset":
            self.profiler = cProfile.Profile()
        elif action == "dump":
            self.profiler.dump_stats(self.out)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": action.encode()})


def create_app() -> Any:
    app = create_api()
    wrapped = Profiled(app, os.environ["BENCH_PROFILE_OUT"])
    # uvicorn's lifespan goes through __call__'s pass-through branch.
    return wrapped
