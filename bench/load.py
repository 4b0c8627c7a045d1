"""Closed-loop HTTP load from a separate process: `bench.loadgen` (default) or `wrk`.

Both check every response (200, no `"errors"`, the expected number of rows,
counted as occurrences of a token such as `"matchId":`, the cache header when
asked) and report the same JSON: requests, duration, latency percentiles,
ok/bad counts, socket errors.

bench.loadgen warms its connections up before timing and returns every
sample. wrk cannot exclude connection set-up from its latencies: against a
saturated server whose requests do not yield (ours on a miss, naive), the
first request of some connections waits for seconds, which dominates the p99
of a short burst. Use wrk to cross-check throughput.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import REPO
from bench.systems import BenchError

NONCE = "__NONCE__"
RESULT_PREFIX = "BENCHJSON "
BAD_PREFIX = "BENCHBAD "


@dataclass(frozen=True)
class LoadSpec:
    """One kind of request to repeat: `body` may hold NONCE, replaced per request."""

    label: str
    url: str  # base URL of the server
    method: str
    path: str
    body: str | None
    count_token: str
    expect: int
    cache: str = ""  # expected x-matchgraph-cache header ("" = not checked)
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers (e.g. X-API-Key)


GENERATORS = ("asyncio", "wrk")


def run_load(
    spec: LoadSpec,
    *,
    seconds: float,
    connections: int,
    round_no: int,
    work_dir: Path,
    warmup: float = 0.0,
    generator: str = "asyncio",
) -> dict[str, Any]:
    """Run one bounded burst of load; raise if any response failed its checks.

    `warmup` seconds of load precede the timed part (bench.loadgen only).
    """
    command = load_command(
        spec,
        seconds=seconds,
        connections=connections,
        round_no=round_no,
        work_dir=work_dir,
        warmup=warmup,
        generator=generator,
    )
    done = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=seconds + warmup + 120,
        check=False,
    )
    return checked(spec, done.returncode, done.stdout, done.stderr)


def load_command(
    spec: LoadSpec,
    *,
    seconds: float,
    connections: int,
    round_no: int,
    work_dir: Path,
    warmup: float = 0.0,
    generator: str = "asyncio",
) -> list[str]:
    """The load generator's command line for one burst (run it from REPO)."""
    tag = f"{round_no}-{time.time_ns()}"  # nonces never repeat, not even across runs
    if generator == "wrk":
        if not shutil.which("wrk"):
            raise BenchError("wrk is not installed (apt-get install -y wrk)")
        script = work_dir / f"wrk-{spec.label.replace(' ', '-')}.lua"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(wrk_script(spec))
        return [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            spec.url + spec.path,
            "--",
            tag,
        ]
    return [
        sys.executable,
        "-m",
        "bench.loadgen",
        json.dumps(asdict(spec)),
        str(seconds),
        str(connections),
        tag,
        str(warmup),
    ]


def checked(spec: LoadSpec, returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    """A load generator's (or prober's) result; raise if it failed or any response did."""
    result = _parse(stdout)
    if returncode != 0 or result is None:
        raise BenchError(f"load on {spec.label} failed: {stderr[-500:]}{stdout[-500:]}")
    errors = result["errors"]
    if result["bad"] or any(errors.values()) or not result["ok"]:
        bad = [line for line in stdout.splitlines() if line.startswith(BAD_PREFIX)]
        brief = {k: v for k, v in result.items() if k != "samples_ms"}
        raise BenchError(f"load on {spec.label}: failed responses {brief} {bad[:1]}")
    return result


def _parse(stdout: str) -> dict[str, Any] | None:
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            parsed: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return parsed
    return None


def _lua_string(text: str) -> str:
    level = "=" * 4
    if f"]{level}]" in text:
        raise BenchError("cannot quote this body for Lua")
    return f"[{level}[{text}]{level}]"


def wrk_script(spec: LoadSpec) -> str:
    body = spec.body or ""
    head, _, tail = body.partition(NONCE)
    varying = NONCE in body
    lines = [
        f"wrk.method = {_lua_string(spec.method)}",
        'wrk.headers["Content-Type"] = "application/json"',
        *(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in spec.headers),
        f"wrk.body = {_lua_string(body)}" if spec.body is not None and not varying else "",
        f"local head, tail = {_lua_string(head)}, {_lua_string(tail)}",
        f'local pattern = ({_lua_string(spec.count_token)}):gsub("%p", "%%%0")',
        f"local expect = {spec.expect}",
        f"local want_cache = {_lua_string(spec.cache)}",
        _WRK_COMMON,
        _WRK_VARYING if varying else "",
    ]
    return "\n".join(lines) + "\n"


_WRK_COMMON = r"""
local threads = {}
local round = "0"
ok, bad, first_bad, tid = 0, 0, "", 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  round = args[1] or "0"
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. body:sub(1, 200) end
    return
  end
  if want_cache ~= "" and headers["x-matchgraph-cache"] ~= want_cache then
    bad = bad + 1
    if first_bad == "" then first_bad = "cache " .. tostring(headers["x-matchgraph-cache"]) end
    return
  end
  local _, n = body:gsub(pattern, "")
  if n ~= expect then
    bad = bad + 1
    if first_bad == "" then first_bad = "rows " .. n end
    return
  end
  ok = ok + 1
end

function done(summary, latency, requests)
  local okc, badc, why = 0, 0, ""
  for _, t in ipairs(threads) do
    okc = okc + t:get("ok")
    badc = badc + t:get("bad")
    if why == "" then why = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_s":%.6f,"bytes":%d,"ok":%d,"bad":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f,"mean":%.3f}}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, okc, badc,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
  if why ~= "" then io.write("BENCHBAD " .. why .. "\n") end
end
"""

_WRK_VARYING = r"""
local counter = 0
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. round .. "-" .. tid .. "-" .. counter .. tail)
end
"""
