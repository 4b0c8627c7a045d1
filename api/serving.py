"""uvicorn, with the graceful drain (api/drain.py) before its own shutdown.

uvicorn's `Server.shutdown` closes the listeners, then calls every
connection's `shutdown()`: an idle HTTP connection is closed, a busy one
closes after its response, and an open WebSocket (websockets-sansio
protocol) is closed with a bare 1012 at once, before the application could
say why. Then it waits `timeout_graceful_shutdown` for connections and tasks,
cancels what is left, and only then runs the lifespan's shutdown. Nothing in
between reaches the application.

`DrainingServer.shutdown` therefore closes the listeners itself, runs the
app's drain (found in the ASGI lifespan state the app yields), and hands what
is left of the bound to uvicorn's shutdown. It also keeps uvicorn from
re-raising SIGTERM after a clean shutdown (`capture_signals` does, which
would end the process "killed by SIGTERM" instead of exiting 0).

With `--workers N` uvicorn's `Multiprocess` builds a plain `Server` in each
child (`Process.server`); `DrainingMultiprocess` builds `DrainingProcess`es,
whose server is ours, wherever uvicorn 0.54's supervisor builds a `Process`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Generator

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from api.drain import STATE_KEY, Drain

log = logging.getLogger("matchgraph")


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains the app (api/drain.py) before closing connections."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        drain = self._drain()
        if drain is not None and not self.force_exit:
            started = time.monotonic()
            for server in self.servers:  # stop accepting: new connections are refused
                server.close()
            for sock in sockets or []:
                sock.close()
            bound = float(self.config.timeout_graceful_shutdown or 0)
            await self._drain_unless_forced(drain, bound)
            # uvicorn's own wait gets what is left of the one bound (at least a moment
            # to let the closing handshakes it starts complete).
            self.config.timeout_graceful_shutdown = max(0.5, bound - (time.monotonic() - started))  # type: ignore[assignment]
        await super().shutdown(sockets)

    async def _drain_unless_forced(self, drain: Drain, bound: float) -> None:
        """The drain; a second Ctrl-C (uvicorn's `force_exit`) cuts it short."""
        run = asyncio.ensure_future(drain.run(bound))
        while not run.done():
            if self.force_exit:
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run
                return
            await asyncio.wait({run}, timeout=0.1)
        run.result()

    def _drain(self) -> Drain | None:
        lifespan = getattr(self, "lifespan", None)
        state = getattr(lifespan, "state", None) or {}
        found = state.get(STATE_KEY)
        return found if isinstance(found, Drain) else None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            yield
            if self.started and not self.force_exit:
                # Drained and shut down: an exit, not a death by the signal.
                self._captured_signals.clear()


class DrainingProcess(Process):
    """uvicorn's worker process, running a DrainingServer."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DrainingServer(config=self.config)
        return self._server


class DrainingMultiprocess(Multiprocess):
    """uvicorn's `--workers` supervisor, with DrainingProcess where it makes a Process.

    On SIGTERM it sends SIGTERM to each worker and joins them: each drains on
    its own (within the same bound) and exits 0.
    """

    def _process(self) -> Process:
        return DrainingProcess(self.config, self.sockets)

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            process = self._process()
            process.start()
            self.processes.append(process)

    def keep_subprocess_alive(self) -> None:
        # uvicorn's, with our process class (it also stops on a failed first start).
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == uvicorn.config.STARTUP_FAILURE:
                log.error("worker process [%s] failed to start, stopping", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info("worker process [%s] died", process.pid)
            replacement = self._process()
            replacement.start()
            self.processes[index] = replacement

    def restart_all(self) -> None:
        # uvicorn's SIGHUP: each replacement in service before its predecessor drains.
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._process()
            new.start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    log.error("worker [%s] not ready in time; restart aborted", new.pid)
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def handle_term(self) -> None:
        self._stop_listening()
        super().handle_term()

    def handle_int(self) -> None:
        self._stop_listening()
        super().handle_int()

    def _stop_listening(self) -> None:
        # The supervisor holds the listening socket too: while any process keeps it open
        # the kernel completes new connections that nobody will serve. Closed here, and
        # by each worker as its drain starts, new connections are refused.
        for sock in self.sockets:
            sock.close()

    def handle_ttin(self) -> None:
        self.processes_num += 1
        process = self._process()
        process.start()
        self.processes.append(process)


def run(config: uvicorn.Config) -> None:
    """`uvicorn.run` for an import-string app, with the drain in every process."""
    if config.workers > 1:
        sock = config.bind_socket()
        DrainingMultiprocess(config, sockets=[sock]).run()
        return
    config.load_app()
    server = DrainingServer(config=config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(uvicorn.config.STARTUP_FAILURE)
