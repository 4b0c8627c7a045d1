"""The benchmark harness end to end, in --quick mode on a tiny demo data set."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by this module's runs: the 1,500-match demo data is generated once."""
    return tmp_path_factory.mktemp("bench-work")


def _bench(work_dir: Path, results_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--matches",
            "1500",
            *args,
            "--work-dir",
            str(work_dir),
            "--results-dir",
            str(results_dir),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    return done.stdout


@pytest.mark.timeout(240)
def test_bench_quick_run_records_every_system(tmp_path: Path, work_dir: Path) -> None:
    results_dir = tmp_path / "results"
    stdout = _bench(work_dir, results_dir, "--scenarios", "cards,batches", "--iterations", "5")
    assert "ours_cold/rest" in stdout  # the table was printed

    [path] = results_dir.glob("*.json")
    results = json.loads(path.read_text())
    assert results["machine"]["cpu_count"]
    assert results["data"]["catalogue"] == 1500
    assert results["checks"]["raw_replays_ours"]

    assert results["checks"]["ours_gqlcore_cards_equal_ours"]

    cards = results["scenarios"]["cards"]
    assert set(cards["systems"]) == {
        "ours cold",
        "ours warm",
        "ours-gqlcore cold",
        "rest",
        "naive",
        "raw",
    }
    assert all(s["n"] == 5 for s in cards["systems"].values())
    for name in ("ours_cold/rest", "ours_cold/naive", "ours_warm/raw", "ours_cold/gqlcore_cold"):
        ratio = cards["ratios"][name]
        assert all(math.isfinite(v) and v > 0 for v in ratio.values()), (name, ratio)

    batches = results["scenarios"]["batches"]
    assert batches["page_sizes"] == [10, 100, 1000, 1500]
    assert batches["constant"]


@pytest.mark.timeout(240)
def test_bench_quick_head_of_line_probes_under_load(tmp_path: Path, work_dir: Path) -> None:
    results_dir = tmp_path / "results"
    stdout = _bench(
        work_dir, results_dir, "--scenarios", "hol", "--hol-seconds", "1", "--hol-clients", "2"
    )
    assert "hol: match(matchId)" in stdout  # the table was printed

    [path] = results_dir.glob("*.json")
    results = json.loads(path.read_text())
    assert results["checks"]["ours_gqlcore_cards_equal_ours"]
    hol = results["scenarios"]["hol"]
    assert set(hol["systems"]) == {"ours", "ours-gqlcore"}
    assert hol["clients"] == 2
    assert hol["page_size"] == 1500
    for system in hol["systems"].values():
        assert system["probe"]["n"] > 0
        assert system["idle"]["n"] > 0
        assert 0 < system["probe"]["p50_ms"] <= system["probe"]["p99_ms"]
        assert system["background"]["pages"] > 0
    assert math.isfinite(hol["ratios"]["ours/ours-gqlcore"]["probe_p99"])
    assert set(hol["verdicts"]) == {"ours_probe_p99_ms"}


@pytest.mark.timeout(240)
def test_bench_quick_live_checks_every_job(tmp_path: Path, work_dir: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("the live scenario runs a redis-server of its own")
    results_dir = tmp_path / "results"
    stdout = _bench(
        work_dir,
        results_dir,
        "--scenarios",
        "live",
        "--live-jobs",
        "5",
        "--live-seconds",
        "2",
        "--live-clients",
        "8",
    )
    assert "arq-default" in stdout  # the table was printed

    [path] = results_dir.glob("*.json")
    live = json.loads(path.read_text())["scenarios"]["live"]
    systems = ("ours subscription", "ours mutation-wait", "arq-default")
    assert set(live["sequential"]["systems"]) == set(systems)
    assert all(s["n"] == 5 for s in live["sequential"]["systems"].values())
    concurrent = live["concurrent"]["systems"]
    assert all(concurrent[s]["jobs_per_s"] > 0 for s in systems)
    for name in ("ours subscription/arq-default", "ours mutation-wait/arq-default"):
        ratios = live["ratios"][name]
        assert all(math.isfinite(v) and v > 0 for v in ratios.values()), (name, ratios)
    # Pushed wake-ups against arq's 0.5 s polling: the point of the design.
    seq = live["sequential"]["systems"]
    assert seq["ours subscription"]["p50_ms"] < seq["arq-default"]["p50_ms"]
    assert set(live["verdicts"]["ours subscription"]) == {"seq_p50_ms", "seq_p99_ms", "jobs_per_s"}


@pytest.mark.timeout(240)
def test_bench_quick_push_measures_commit_to_client(tmp_path: Path, work_dir: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("the push scenario runs a redis-server of its own")
    results_dir = tmp_path / "results"
    stdout = _bench(work_dir, results_dir, "--scenarios", "push")
    assert "push: liveScoreUpdates" in stdout  # the table was printed

    [path] = results_dir.glob("*.json")
    push = json.loads(path.read_text())["scenarios"]["push"]
    assert set(push["fanout"]) == {"1", "10"}
    for n, fanout in push["fanout"].items():
        assert fanout["rounds"] == 20 and fanout["n"] == 20 * int(n)
        assert 0 < fanout["p50_ms"] <= fanout["p99_ms"] < 1000
        assert fanout["last_follower"]["n"] == 20


@pytest.mark.timeout(240)
def test_bench_quick_analytics_times_every_operation(tmp_path: Path, work_dir: Path) -> None:
    results_dir = tmp_path / "results"
    stdout = _bench(work_dir, results_dir, "--scenarios", "analytics")
    assert "analytics: our API alone" in stdout  # the table was printed

    [path] = results_dir.glob("*.json")
    analytics = json.loads(path.read_text())["scenarios"]["analytics"]
    assert analytics["reps"] == 3
    [size] = analytics["sizes"].values()  # --quick: the --matches size only
    assert size["roi_reproduced"]
    assert size["matches_counted"] > 0
    for name in analytics["operations"]:
        assert 0 < size[name]["compute_ms"] < 10_000, name
        assert 0 < size[name]["cached_ms"] < 10_000, name


@pytest.mark.timeout(240)
def test_bench_quick_surface_loads_guarded_and_open_servers(tmp_path: Path, work_dir: Path) -> None:
    """Keys + rate limit + APQ under load: every request of every system answered in full
    (the load generator fails the run on any error, 429 included), and the ratios computed."""
    results_dir = tmp_path / "results"
    stdout = _bench(work_dir, results_dir, "--scenarios", "surface", "--page-seconds", "2")
    assert "surface: keys + rate limit + APQ, and tracing" in stdout

    [path] = results_dir.glob("*.json")
    surface = json.loads(path.read_text())["scenarios"]["surface"]
    kinds = ("open full", "guarded full", "guarded apq", "traced full")
    labels = {f"{d} {k}" for d in ("page", "tiny") for k in kinds}
    assert set(surface["systems"]) == labels
    for system in surface["systems"].values():
        assert system["requests"] > 0 and system["p50_ms"] <= system["p99_ms"]
    assert set(surface["ratios"]) == {
        f"{d} {k}/open full" for d in ("page", "tiny") for k in kinds[1:]
    }
