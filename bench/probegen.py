"""Latency prober: one connection, one small request at a time, about every INTERVAL ms.

    python -m bench.probegen SPEC_JSON SECONDS INTERVAL_MS TAG [DELAY_SECONDS]

Runs in its own process (uvloop), apart from the load it measures against
(`bench.loadgen`), so neither shares an event loop with the other or with the
server. It connects and sends one untimed request at once, then, DELAY_SECONDS
after its start (the background load's warm-up), for SECONDS: sends a request,
waits for the whole response, then sleeps until INTERVAL ms after that
request's start (at once if the answer took longer: the prober is sequential,
so a server stall costs it one slow sample, not one per missed tick). Every
response is checked like bench.loadgen's (200, no errors, rows, cache header).
Prints one `BENCHJSON {...}` line with every sample.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from typing import Any

import uvloop

from bench.load import BAD_PREFIX, RESULT_PREFIX, LoadSpec
from bench.loadgen import Requests, Tally, check, read_response
from bench.stats import percentile


async def probe(
    spec: LoadSpec, seconds: float, interval: float, tag: str, delay: float
) -> dict[str, Any]:
    tally = Tally()
    requests = Requests(spec, tag)
    start_at = time.perf_counter() + delay
    try:
        reader, writer = await asyncio.open_connection(requests.host, requests.port)
    except OSError:
        tally.errors["connect"] += 1
        return _result(tally, 0.0)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        # Untimed, before the window: connection set-up and the server's first sight
        # of the query (its parse and validation caches).
        started = time.perf_counter()
        await _ask(spec, requests, reader, writer, tally, tally.first, started)
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        begin = time.perf_counter()
        end = begin + seconds
        while (started := time.perf_counter()) < end:
            await _ask(spec, requests, reader, writer, tally, tally.latencies, started)
            pause = started + interval - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        tally.errors["read"] += 1
        begin = time.perf_counter()
    finally:
        writer.close()
    return _result(tally, time.perf_counter() - begin)


async def _ask(
    spec: LoadSpec,
    requests: Requests,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    tally: Tally,
    into: list[float],
    started: float,
) -> None:
    """One request, its answer checked; its time goes `into` a list if it passed."""
    writer.write(requests.next())
    status, headers, body = await read_response(reader)
    elapsed = time.perf_counter() - started
    tally.completed += 1
    why = check(spec, status, headers, body)
    if why:
        tally.fail(why)
        return
    into.append(elapsed)
    if into is tally.latencies:
        tally.ok += 1


def _result(tally: Tally, duration: float) -> dict[str, Any]:
    ms = [v * 1000 for v in tally.latencies]
    return {
        "requests": len(ms),
        "duration_s": duration,
        "ok": tally.ok,
        "bad": tally.bad,
        "errors": tally.errors,
        "latency_ms": {
            "p50": percentile(ms, 50),
            "p95": percentile(ms, 95),
            "p99": percentile(ms, 99),
            "max": max(ms, default=0.0),
            "mean": sum(ms) / len(ms) if ms else 0.0,
        },
        "first_request_ms": [v * 1000 for v in tally.first],
        "samples_ms": ms,
        "first_bad": tally.first_bad,
    }


def main(argv: list[str]) -> int:
    spec = LoadSpec(**json.loads(argv[0]))
    delay = float(argv[4]) if len(argv) > 4 else 0.0
    result = uvloop.run(probe(spec, float(argv[1]), float(argv[2]) / 1000, argv[3], delay))
    first_bad = result.pop("first_bad")
    print(RESULT_PREFIX + json.dumps(result))
    if first_bad:
        print(BAD_PREFIX + first_bad)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
