"""Run the server: Granian (embedded, RSGI) on our own uvloop event loop.

SIGTERM/SIGINT stop accepting, let in-flight requests finish, then close the database
after its queued writes.
"""

import asyncio
import logging
import signal
import sys

import uvloop
from granian.constants import Interfaces, TaskImpl
from granian.server.embed import Server

from fazt.db import Database
from fazt.server.app import FaztApp
from fazt.server.state import ServerState

log = logging.getLogger("fazt")

# Granian's Rust task implementation schedules each request with less Python overhead
# (measured in docs/benchmarks.md); it exists only for Python < 3.12.
TASK_IMPL = TaskImpl.rust if sys.version_info < (3, 12) else TaskImpl.asyncio


def serve(db: Database, host: str, port: int, on_ready=None) -> None:
    """Serve until a stop signal; always closes the database."""
    # A plain loop rather than asyncio.run(): the Runner's final "cancel every task" sweep
    # cannot handle the Rust-implemented tasks, and our own tasks are cancelled by the app.
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_serve(db, host, port, on_ready))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        db.close()


async def _serve(db: Database, host: str, port: int, on_ready) -> None:
    state = ServerState.load(db, port)
    app = FaztApp(state)
    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        log_enabled=False,
        backlog=1024,
        task_impl=TASK_IMPL,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    serving = asyncio.ensure_future(server.serve())
    if on_ready is not None:
        await _wait_listening(host, port, serving)
        on_ready(state)
    await serving


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
