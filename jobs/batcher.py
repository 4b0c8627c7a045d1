"""Concurrent live predictions share one model call.

scikit-learn's `predict_proba` costs about the same for one row as for fifty:
the demo champion (60 iterations x 3 classes of trees) dispatches 180 tree
predictors per call, so one row costs 1.10 ms of CPU, 20 rows 1.09 ms and 50
rows 1.24 ms (one thread, this machine). A worker runs up to
`MATCHGRAPH_WORKER_MAX_JOBS` jobs at once, but arq starts them one after
another, a few Redis round trips apart, so they almost never reach the model
in the same loop turn (1.0 rows per call in `bench live`). So while the
worker is busy, a row waits up to `MATCHGRAPH_WORKER_BATCH_WINDOW` (10 ms)
for the rows of the jobs starting behind it; a job with no company never
waits. Under 50 clients that gave 1.5 rows per call and 0.3 ms less worker
CPU per job (bench/results/20261126T202258Z.json).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np


class RowBatcher:
    """Stacks the rows of concurrent jobs into one model call."""

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        *,
        window: float = 0.0,
        max_rows: int = 64,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        """Rows wait up to `window` s for company while `busy()` says other jobs run."""
        self._predict = predict
        self._window = window
        self._max_rows = max_rows
        self.busy = busy
        self._rows: list[np.ndarray] = []
        self._waiters: list[asyncio.Future[np.ndarray]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flush_soon = False
        self.rows = 0
        self.calls = 0

    async def predict(self, row: np.ndarray) -> np.ndarray:
        """The model's output for one row (a 1-D array in the model's column order)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[np.ndarray] = loop.create_future()
        self._rows.append(row)
        self._waiters.append(waiter)
        self._schedule(loop)
        return await waiter

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flush_soon:
            return
        full = len(self._rows) >= self._max_rows
        if self._timer is None and not full and self._window > 0 and self.busy and self.busy():
            self._timer = loop.call_later(self._window, self._flush)
        elif self._timer is None or full:
            if self._timer is not None:
                self._timer.cancel()
            # at the next turn, so that rows queued in this turn still join the call
            self._flush_soon = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        rows, waiters = self._rows, self._waiters
        self._rows, self._waiters = [], []
        self._timer, self._flush_soon = None, False
        live = [(r, w) for r, w in zip(rows, waiters, strict=True) if not w.done()]
        if not live:  # every job of the call was cancelled meanwhile (timeouts)
            return
        self.calls += 1
        self.rows += len(live)
        try:
            outputs = self._predict(np.vstack([r for r, _ in live]))
        except Exception as exc:  # every job of the call fails with the model's own error
            for _, waiter in live:
                waiter.set_exception(exc)
            return
        for (_, waiter), output in zip(live, outputs, strict=True):
            waiter.set_result(output)
