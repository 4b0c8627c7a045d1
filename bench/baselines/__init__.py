"""Baselines the harness builds itself over the same files: raw, rest, naive."""

import os
from pathlib import Path

DATA_DIR_ENV = "BENCH_DATA_DIR"


def data_dir_from_env() -> Path:
    """The data root a baseline server reads (set by the harness)."""
    return Path(os.environ[DATA_DIR_ENV])
