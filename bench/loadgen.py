"""Closed-loop load generator: raw HTTP/1.1 over asyncio streams (uvloop), in its own process.

    python -m bench.loadgen SPEC_JSON SECONDS CONNECTIONS TAG [WARMUP_SECONDS]

Opens CONNECTIONS keep-alive connections, each sending its next request as
soon as the previous response is in. Requests that start during the warm-up
are checked but not timed, so connection set-up never pollutes the figures
(the first request of each connection is reported apart). Every response is
checked: 200, no `"errors"`, the expected number of rows (occurrences of a
token) and, if asked, the cache header. Prints one `BENCHJSON {...}` line.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import uvloop

from bench.load import BAD_PREFIX, NONCE, RESULT_PREFIX, LoadSpec
from bench.stats import percentile


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)  # first request of each connection
    ok: int = 0
    bad: int = 0
    completed: int = 0  # warm-up included
    bytes: int = 0
    errors: dict[str, int] = field(
        default_factory=lambda: {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    )
    first_bad: str = ""

    def fail(self, why: str) -> None:
        self.bad += 1
        self.first_bad = self.first_bad or why


class Requests:
    """Request bytes for a spec: fixed, or with a fresh nonce each time."""

    def __init__(self, spec: LoadSpec, tag: str) -> None:
        parts = urlsplit(spec.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        extra = "".join(f"{name}: {value}\r\n" for name, value in spec.headers)
        self.head = f"{spec.method} {spec.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}"
        body = spec.body
        self.varying = body is not None and NONCE in body
        self.parts = body.split(NONCE, 1) if body is not None and self.varying else None
        self.fixed = self._build(body)
        self.tag = tag
        self.counter = 0

    def _build(self, body: str | None) -> bytes:
        if body is None:
            return (self.head + "\r\n").encode()
        data = body.encode()
        head = f"{self.head}Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        return head.encode() + data

    def next(self) -> bytes:
        if self.parts is None:
            return self.fixed
        self.counter += 1
        return self._build(f"{self.parts[0]}{self.tag}-{self.counter}{self.parts[1]}")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        return status, headers, b"".join(chunks)
    return status, headers, await reader.readexactly(int(headers.get(b"content-length", b"0")))


def check(spec: LoadSpec, status: int, headers: dict[bytes, bytes], body: bytes) -> str:
    if status != 200 or b'"errors"' in body:
        return f"{status} {body[:200]!r}"
    if spec.cache and headers.get(b"x-matchgraph-cache", b"").decode() != spec.cache:
        return f"cache {headers.get(b'x-matchgraph-cache')!r}"
    rows = body.count(spec.count_token.encode())
    return "" if rows == spec.expect else f"rows {rows}"


async def connection(
    spec: LoadSpec, requests: Requests, measure_from: float, end: float, tally: Tally
) -> None:
    try:
        reader, writer = await asyncio.open_connection(requests.host, requests.port)
    except OSError:
        tally.errors["connect"] += 1
        return
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    first = True
    try:
        while (started := time.perf_counter()) < end:
            writer.write(requests.next())
            status, headers, body = await read_response(reader)
            elapsed = time.perf_counter() - started
            tally.completed += 1
            if first:
                tally.first.append(elapsed)
                first = False
            why = check(spec, status, headers, body)
            if why:
                tally.fail(why)
            elif started >= measure_from:
                tally.ok += 1
                tally.bytes += len(body)
                tally.latencies.append(elapsed)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        tally.errors["read"] += 1
    finally:
        writer.close()


async def run(
    spec: LoadSpec, seconds: float, connections: int, tag: str, warmup: float
) -> dict[str, Any]:
    tally = Tally()
    requests = Requests(spec, tag)
    begin = time.perf_counter()
    measure_from, end = begin + warmup, begin + warmup + seconds
    await asyncio.gather(
        *(connection(spec, requests, measure_from, end, tally) for _ in range(connections))
    )
    # Responses to requests sent before `end` may arrive a little after it.
    duration = max(time.perf_counter(), end) - measure_from
    ms = [v * 1000 for v in tally.latencies]
    return {
        "requests": len(ms),
        "all_requests": tally.completed,
        "duration_s": duration,
        "bytes": tally.bytes,
        "ok": tally.ok,
        "bad": tally.bad,
        "errors": tally.errors,
        "latency_ms": {
            "p50": percentile(ms, 50),
            "p90": percentile(ms, 90),
            "p99": percentile(ms, 99),
            "max": max(ms, default=0.0),
            "mean": sum(ms) / len(ms) if ms else 0.0,
        },
        "first_request_ms": {
            "p50": percentile([v * 1000 for v in tally.first], 50),
            "max": max(tally.first, default=0.0) * 1000,
        },
        "samples_ms": ms,
        "first_bad": tally.first_bad,
    }


def main(argv: list[str]) -> int:
    spec = LoadSpec(**json.loads(argv[0]))
    warmup = float(argv[4]) if len(argv) > 4 else 0.0
    result = uvloop.run(run(spec, float(argv[1]), int(argv[2]), argv[3], warmup))
    first_bad = result.pop("first_bad")
    print(RESULT_PREFIX + json.dumps(result))
    if first_bad:
        print(BAD_PREFIX + first_bad)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
