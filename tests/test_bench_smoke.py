"""The benchmark harness end to end, in --quick mode on a tiny demo data set."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(240)
def test_bench_quick_run_records_every_system(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--matches",
            "1500",
            "--scenarios",
            "cards,batches",
            "--iterations",
            "5",
            "--work-dir",
            str(tmp_path / "work"),
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
    assert "ours_cold/rest" in done.stdout  # the table was printed

    [path] = results_dir.glob("*.json")
    results = json.loads(path.read_text())
    assert results["machine"]["cpu_count"]
    assert results["data"]["catalogue"] == 1500
    assert results["checks"]["raw_replays_ours"]

    cards = results["scenarios"]["cards"]
    assert set(cards["systems"]) == {"ours cold", "ours warm", "rest", "naive", "raw"}
    assert all(s["n"] == 5 for s in cards["systems"].values())
    for name in ("ours_cold/rest", "ours_cold/naive", "ours_warm/raw"):
        ratio = cards["ratios"][name]
        assert all(math.isfinite(v) and v > 0 for v in ratio.values()), (name, ratio)

    batches = results["scenarios"]["batches"]
    assert batches["page_sizes"] == [10, 100, 1000, 1500]
    assert batches["constant"]
