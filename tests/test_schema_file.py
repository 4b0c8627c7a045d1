"""schema.graphql is what the code exports; CI fails when it drifts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql import build_schema as parse_sdl

ROOT = Path(__file__).resolve().parents[1]


def test_checked_in_schema_matches_the_code() -> None:
    exported = subprocess.run(
        [sys.executable, "-m", "api.cli", "export-schema"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert exported == (ROOT / "schema.graphql").read_text(), (
        "schema.graphql is stale: run `matchgraph export-schema --output schema.graphql`"
    )


def test_every_type_and_field_has_a_description() -> None:
    schema = parse_sdl((ROOT / "schema.graphql").read_text())
    missing = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert missing == []
