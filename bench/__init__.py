"""Benchmark harness: our API against raw, rest and naive baselines (see BENCH.md)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
