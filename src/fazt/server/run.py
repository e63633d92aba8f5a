"""Run the server: Granian (embedded, RSGI) on our own uvloop event loop.

SIGTERM/SIGINT stop accepting, let in-flight requests finish, then close the database
after its queued writes.
"""

import asyncio
import ctypes
import logging
import signal

import uvloop
from granian.constants import Interfaces
from granian.server.embed import Server

from fazt.api.session_auth import session_max_age
from fazt.auth import sessions
from fazt.backup.service import start_services
from fazt.db import Database
from fazt.https import service as https_service
from fazt.server.app import FaztApp
from fazt.state import ServerState
from fazt.storage import kv
from fazt.web.http import http1_settings
from fazt.web.readiness import prove_serving, report_ready
from fazt.web.steer import steer_to_newest

log = logging.getLogger("fazt")
M_ARENA_MAX = -8  # mallopt parameter number in glibc's malloc.h


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas. With one arena per reader thread, freed cache
    memory stays fragmented across arenas: measured 184 MB -> 156 MB RSS with a 64 MB cache
    (docs/benchmarks.md). Call before threads start; a no-op off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass


def serve(db: Database, host: str, port: int, on_ready=None, ready_fd: int | None = None) -> None:
    """Serve until a stop signal; always closes the database.

    `ready_fd` (from a supervisor) gets "ready" once this process has answered a request
    over the real port.
    """
    try:
        uvloop.run(_serve(db, host, port, on_ready, ready_fd))
    finally:
        db.close()


async def _serve(db: Database, host: str, port: int, on_ready, ready_fd: int | None) -> None:
    state = ServerState.load(db, port)
    app = FaztApp(state)
    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        log_enabled=False,
        backlog=1024,
        # Slowloris: Granian closes a connection whose request headers take longer than
        # this; it also caps requests in progress (backpressure, backlog/workers = 1024).
        http1_settings=http1_settings(app.edge.limits.http_header_timeout_seconds),
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    serving = asyncio.ensure_future(server.serve())
    # Scheduled backups and the Litestream supervisor (fazt.backup.service).
    services = start_services(state)
    sweeper = asyncio.ensure_future(_sweep_expired_keys(state))
    state.analytics.start()  # buffered analytics writes (fazt.analytics.service)
    try:
        await _wait_listening(host, port, serving)
        await prove_serving(host, port, state.instance)
        steer_to_newest(port)  # a worker we replace gets no new connections (fazt.web.steer)
        # HTTPS mode: the TLS and http->https listeners and the certificate manager.
        state.tls = await https_service.start(state, app)
        report_ready(ready_fd)
        if on_ready is not None:
            on_ready(state)
        await serving
    finally:
        if state.tls is not None:
            try:
                await state.tls.stop()
            except Exception:  # the analytics flush below must still run
                log.exception("stopping the HTTPS listeners failed")
        sweeper.cancel()
        await state.analytics.close()  # in-flight requests are done: write every last hit
        await services.stop()


SWEEP_SECONDS = 300


async def _sweep_expired_keys(state: ServerState) -> None:
    """Expired kv keys are invisible at once; this deletes them for apps that went quiet."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await state.db.write(kv.sweep_expired)
            await state.db.write(sessions.prune_expired, await session_max_age(state))
        except Exception:  # a busy database must not end the loop
            log.exception("sweeping expired keys failed")


async def _wait_listening(host: str, port: int, serving: asyncio.Future) -> None:
    """Return once the port accepts connections (or the server failed)."""
    for _ in range(200):
        if serving.done():
            serving.result()
            return
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.025)
