"""The results: one JSON per run in bench/results/, and a table for people."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import REPO
from bench.scenarios import analytics, hol, push, scale, surface, versions


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def machine() -> dict[str, Any]:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def write(results: dict[str, Any], results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{results['started_at'].replace(':', '').replace('-', '')}.json"
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return path


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _f(value: float, digits: int = 2) -> str:
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def table(results: dict[str, Any]) -> str:
    m, scenarios = results["machine"], results["scenarios"]
    commit = (m["git_commit"] or "?")[:10] + (" (dirty tree)" if m["git_dirty"] else "")
    lines = [
        f"matchgraph bench {results['started_at']}  commit {commit}  cpus {m['cpu_count']}"
        f"  python {m['python']}",
        f"data: demo, {results['data']['matches']} matches, seed {results['data']['seed']}",
    ]
    for name, render in (
        ("cards", _cards),
        ("page", _page),
        ("batches", _batches),
        ("hol", hol.render),
        ("scale", scale.render),
        ("live", _live),
        ("versions", versions.render),
        ("push", push.render),
        ("surface", surface.render),
        ("analytics", analytics.render),
    ):
        if name in scenarios:
            lines += ["", *render(scenarios[name])]
    return "\n".join(lines)


def _cards(r: dict[str, Any]) -> list[str]:
    lines = [
        f"cards: matches(first: {r['cards']}), {r['iterations']} requests each, interleaved",
        f"  {'system':<20}{'median ms':>11}{'p90 ms':>10}{'bytes':>11}",
    ]
    for label, s in r["systems"].items():
        size = r["response_bytes"].get(label, 0)
        lines.append(f"  {label:<20}{s['median_ms']:>11.1f}{s['p90_ms']:>10.1f}{size:>11}")
    lines.append(f"  {'ratio':<24}{'median':>8}{'p90':>8}{'paired':>8}   target")
    aims = r.get("aims", {})
    for name, v in r["ratios"].items():
        target = r["targets"].get(name)
        verdict = ""
        if target is not None:
            verdict = f"<= {target:g}  {'PASS' if v['median'] <= target else 'FAIL'}"
        if name in aims:
            verdict += f"  (aim <= {aims[name]:g})"
        lines.append(
            f"  {name:<24}{_f(v['median']):>8}{_f(v['p90']):>8}{_f(v['paired_median']):>8}"
            f"   {verdict}"
        )
    return lines


def _page(r: dict[str, Any]) -> list[str]:
    lines = [
        f"page: first {r['page_size']} + region ROI, {r['connections']} clients, "
        f"{r['rounds']} x {r['burst_seconds']} s bursts each ({r['load_generator']})",
        f"  {'system':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'worst burst p99':>17}"
        f"{'server CPU':>12}{'CPU us/req':>12}",
    ]
    for label, s in r["systems"].items():
        lines.append(
            f"  {label:<12}{s['rps']:>9.0f}{s['p50_ms']:>9.1f}{s['p99_ms']:>9.1f}"
            f"{s['p99_worst_burst_ms']:>17.1f}{s['server_cpu']:>11.0%}"
            f"{s['cpu_us_per_request']:>12.0f}"
        )
    lines.append(f"  {'ratio (ours/base)':<20}{'req/s':>8}{'p99':>8}{'CPU/req':>9}")
    for name, v in r["ratios"].items():
        lines.append(f"  {name:<20}{_f(v['rps']):>8}{_f(v['p99']):>8}{_f(v['cpu_per_request']):>9}")
    lines.append(
        "  (server CPU < 100 %: the load generator, not the server, set the pace; compare CPU/req)"
    )
    return lines


def _batches(r: dict[str, Any]) -> list[str]:
    loaders = sorted({k for c in r["loader_batches"].values() for k in c})
    lines = [
        "batches: DataLoader batch calls per request (must stay constant)",
        f"  {'first':<8}" + "".join(f"{name:>12}" for name in loaders),
    ]
    for size, counts in r["loader_batches"].items():
        lines.append(f"  {size:<8}" + "".join(f"{counts.get(n, 0):>12}" for n in loaders))
    lines.append(f"  constant: {'yes' if r['constant'] else 'NO'}")
    return lines


def _live(r: dict[str, Any]) -> list[str]:
    seq, conc, setup = r["sequential"], r["concurrent"], r["setup"]
    arq = setup["arq_default"]
    lines = [
        f"live: predictMatch on ONE worker (ours: max_jobs {setup['ours_worker_max_jobs']}; "
        f"arq-default: max_jobs {arq['max_jobs']}, polls every {arq['poll_delay_s']:g} s), "
        f"own redis-server {setup['redis_server']}",
        f"  sequential: {seq['jobs']} jobs each, interleaved job by job; concurrent: "
        f"{conc['clients']} clients, {conc['rounds']} x {conc['burst_seconds']:g} s bursts each",
        f"  {'system':<20}{'seq p50':>9}{'seq p99':>9}{'jobs/s':>8}{'conc p50':>10}"
        f"{'conc p99':>10}  | CPU ms/job:{'api':>6}{'worker':>7}{'redis':>7}{'client':>7}"
        f"{'cmds/job':>9}{'cores: ours':>12}{'others':>7}",
    ]
    for label, s in seq["systems"].items():
        c = conc["systems"][label]
        cpu = c["cpu_ms_per_job"]
        worker = cpu["arq worker"] if label == "arq-default" else cpu["worker"]
        lines.append(
            f"  {label:<20}{s['p50_ms']:>9.1f}{s['p99_ms']:>9.1f}{c['jobs_per_s']:>8.0f}"
            f"{c['p50_ms']:>10.1f}{c['p99_ms']:>10.1f}  | {'':>11}{cpu['api']:>6.2f}"
            f"{worker:>7.2f}{cpu['redis']:>7.2f}{cpu['client']:>7.2f}"
            f"{c['redis_commands_per_job']:>9.1f}"
            f"{sum(c['cpu_share'].values()):>12.2f}{c['others_cores_busy']:>7.2f}"
        )

    lines.append(
        f"  {'ratio (ours/arq-default)':<28}{'seq p50':>9}{'seq p99':>9}{'jobs/s':>8}"
        f"{'conc p50':>10}{'conc p99':>10}"
    )
    for name, v in r["ratios"].items():
        lines.append(
            f"  {name.split('/')[0]:<28}{_f(v['seq_p50'], 3):>9}{_f(v['seq_p99'], 3):>9}"
            f"{_f(v['jobs_per_s']):>8}{_f(v['conc_p50'], 3):>10}{_f(v['conc_p99'], 3):>10}"
        )
    t = r["targets"]
    lines.append(
        f"  targets (ours, one worker): seq p50 <= {t['seq_p50_ms']:g} ms, seq p99 <= "
        f"{t['seq_p99_ms']:g} ms, >= {t['jobs_per_s']:g} jobs/s with {conc['clients']} clients"
    )
    for label, verdicts in r["verdicts"].items():
        lines.append(
            f"  {label:<20}"
            + "  ".join(f"{k} {'PASS' if ok else 'FAIL'}" for k, ok in verdicts.items())
        )
    batching = r.get("ours_worker_model_batching")
    if batching and batching["rows_per_call"]:
        lines.append(
            f"  our worker: {batching['predictions']} predictions in {batching['model_calls']}"
            f" model calls ({batching['rows_per_call']:.1f} rows per call)"
        )
    lines.append(
        f"  (CPU ms/job and cores over the timed windows; cmds/job: Redis commands per job;"
        f" others: the rest of this {r['setup'].get('cpus', '?')}-core machine, steal included)"
    )
    return lines
