"""A newcomer's fresh clone: it works with nothing beside it and says what it is doing."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import feed_samples

REPO = Path(__file__).resolve().parents[1]
THIS = Path(__file__).resolve().relative_to(REPO).as_posix()
# A checkout beside the repository (the team's shared material) that users do not have.
OUTSIDE = re.compile(rb"\.\./shared\b|shared/fixtures|/work/shared")


def _repository_files() -> list[str]:
    """Tracked files, and new ones a commit would add (untracked, not ignored)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    return sorted({name for name in listed.decode().split("\0") if name})


def test_no_file_refers_to_a_shared_folder_outside_the_repository() -> None:
    files = _repository_files()
    assert "tests/feed_samples.py" in files and "README.md" in files
    offenders = []
    for name in files:
        path = REPO / name
        if name == THIS or not path.is_file():  # this test; a file deleted in the work tree
            continue
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{name}:{number}: {line.decode(errors='replace').strip()}")
    assert not offenders, "\n".join(offenders)


def test_feed_samples_are_in_the_repository() -> None:
    for sample in (feed_samples.WHOSCORED, feed_samples.FONBET):
        assert sample.is_file(), sample
        assert sample.resolve().is_relative_to(REPO / "tests" / "fixtures" / "feeds")
    provenance = feed_samples.FEEDS / "SOURCES.md"
    assert provenance.is_file() and (feed_samples.FEEDS / "README.md").is_file()
    assert feed_samples.whoscored()["tournaments"]  # parses


def test_the_whoscored_sample_is_the_blob_its_provenance_names() -> None:
    """SOURCES.md: byte-identical to the upstream blob (same git hash)."""
    sources = (feed_samples.FEEDS / "SOURCES.md").read_text(encoding="utf-8")
    section = sources.split("## whoscored_livescores_sample.json", 1)[1].split("\n## ", 1)[0]
    blob = re.search(r"Blob: `([0-9a-f]{40})`", section)
    assert blob is not None
    data = feed_samples.WHOSCORED.read_bytes()
    assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == blob[1]


def _recipe(makefile: str, target: str) -> list[str]:
    """The recipe lines of `target` in `makefile`, without their tab."""
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line[1:])
    return recipe


def test_the_first_install_says_what_it_does() -> None:
    """`make up`/`make check` first build .venv: minutes of pip, which must not be silent."""
    recipe = _recipe((REPO / "Makefile").read_text(encoding="utf-8"), "$(STAMP)")
    install = next(i for i, line in enumerate(recipe) if "pip install" in line and ".[dev]" in line)
    assert not re.search(r"\s(--quiet|-q+)\b", recipe[install]), recipe[install]
    assert recipe[install - 1].startswith("@echo "), "say what is being installed first"
    assert recipe[0].startswith("@echo "), "say at once that the first run takes minutes"
    up = _recipe((REPO / "Makefile").read_text(encoding="utf-8"), "up")
    assert up[0].startswith("@echo ")
