"""tqdm progress: one bar over the pipeline's stages, transient bars for long loops."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


class Progress:
    """Shows progress when enabled; otherwise every call is a pass-through."""

    def __init__(self, stages: Sequence[str], *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = tqdm(total=len(stages), desc="demo", unit="stage", disable=not enabled)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._bar.set_postfix_str(name)
        yield
        self._bar.update(1)

    def iter(self, items: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
        return tqdm(items, desc=desc, total=total, leave=False, disable=not self.enabled)

    def close(self) -> None:
        self._bar.close()
