"""Run the server: Granian (embedded, RSGI) on our own uvloop event loop.

SIGTERM/SIGINT stop accepting, let in-flight requests finish, then close the database
after its queued writes.
"""

import asyncio
import ctypes
import gc
import logging
import signal
import sys
from contextlib import AsyncExitStack

import uvloop
from granian.constants import Interfaces
from granian.server.embed import Server

from fazt import cpu
from fazt.api.request_auth import session_max_age
from fazt.auth import sessions
from fazt.backup import standby
from fazt.backup.service import start_services
from fazt.db import Database
from fazt.hosting import deployments
from fazt.https import service as https_service
from fazt.offload.service import OffloadJob
from fazt.periodic import cancel_and_wait, periodic
from fazt.runtime.jobs import Scheduler
from fazt.server.app import FaztApp
from fazt.server.forward import Forwarder
from fazt.state import ROUTING_POLL_SECONDS, ServerState
from fazt.storage import kv
from fazt.web.handover import request_reload
from fazt.web.http import http1_settings
from fazt.web.inherited import InheritedSocketServer, by_port
from fazt.web.readiness import prove_serving, report_progress, report_ready
from fazt.web.steer import steer_to_newest

log = logging.getLogger("fazt")
M_ARENA_MAX = -8  # mallopt parameter numbers in glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1024 * 1024


def tune_malloc(arenas: int = 2) -> None:
    """Two glibc malloc settings that keep the worker's memory from staying fragmented
    (measured in docs/benchmarks.md). A cap on per-thread arenas: with one arena per reader
    thread, freed cache memory stayed spread over them (184 -> 156 MB RSS with a 64 MB
    cache). A fixed size from which a block is mapped on its own (and returned to the system
    when freed): left dynamic, it rises to the biggest block freed so far, and then the
    4 MiB pieces of a big file streamed once stay in the heap (+60 MB after a 1 GiB file).
    Call before threads start; a no-op off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        pass


def serve(
    db: Database,
    host: str,
    port: int,
    on_ready=None,
    ready_fd: int | None = None,
    listen_fd: int | None = None,
    extra_fds: tuple[int, ...] = (),
) -> None:
    """Serve until a stop signal; always closes the database.

    `ready_fd` (from a supervisor) gets "ready" once this process has answered a request
    over the real port; `listen_fd` is the supervisor's listening socket for the port
    (None: bind one); `extra_fds` its sockets for the HTTPS mode's ports (the listeners
    bind those it lacks).
    """
    try:
        uvloop.run(_serve(db, host, port, on_ready, ready_fd, listen_fd, extra_fds))
    finally:
        db.close()


async def _serve(
    db: Database,
    host: str,
    port: int,
    on_ready,
    ready_fd: int | None,
    listen_fd: int | None,
    extra_fds: tuple[int, ...],
) -> None:
    state = ServerState.load(db, port)
    app = FaztApp(state)
    server = (Server if listen_fd is None else InheritedSocketServer)(
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
    if listen_fd is not None:
        server.listen_fd = listen_fd  # read when serve() starts
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.stop)
    async with AsyncExitStack() as lifespan:  # stops everything in reverse order
        await _start_background(lifespan, state, app)
        serving = asyncio.ensure_future(server.serve())
        await _wait_listening(host, port, serving)
        await prove_serving(host, port, state.instance)
        steer_to_newest(port)  # a worker we replace gets no new connections (fazt.web.steer)
        report_progress(ready_fd, "proved")  # the HTTPS listeners get their own 10 s
        # HTTPS mode: the TLS and http->https listeners and the certificate manager.
        state.tls = await https_service.start(state.db, app, by_port(extra_fds))
        if state.tls is not None:
            lifespan.push_async_callback(_stop_quietly, state.tls.stop, "the HTTPS listeners")
        report_ready(ready_fd)
        # What start-up built (modules, routes, caches) lives as long as the process: out of
        # the collector's generations, so its full collections do not walk it again and again.
        gc.freeze()
        if on_ready is not None:
            on_ready(state)
        await serving  # until a stop signal; in-flight requests are done after it


async def _start_background(lifespan: AsyncExitStack, state: ServerState, app: FaztApp) -> None:
    """Every background job of a worker, each stopped by `lifespan` (last started, first
    stopped): the JS workers, backups and Litestream, the analytics buffer, the periodic
    jobs."""
    lifespan.callback(cpu.shutdown)  # hashing and zip work (fazt.cpu): last of all
    lifespan.callback(app.runtime.close)
    following = standby.marker(state.db.path)
    if following is not None:
        _start_standby(lifespan, state, following)
        if following.get("primary"):  # a follower: writes go to the primary
            app.forwarder = Forwarder(following["primary"], app.edge.trusted)
            lifespan.push_async_callback(app.forwarder.close)
        return
    services = start_services(state.db)  # scheduled backups, Litestream (fazt.backup.service)
    lifespan.push_async_callback(services.stop)
    state.analytics.start()  # buffered analytics writes (fazt.analytics.service)
    # Closed after the server stops: every last hit of in-flight requests is written.
    lifespan.push_async_callback(state.analytics.close)
    offload = OffloadJob(state.db)  # blobs to the bucket, its GC (fazt.offload.service)
    lifespan.push_async_callback(offload.close)
    state.jobs = Scheduler.for_runtime(state.db, app.runtime)  # apps' cron jobs
    lifespan.push_async_callback(state.jobs.close)  # after its periodic task below
    jobs = [
        periodic(60, state.jobs.tick, "running scheduled jobs", now=True),
        periodic(ROUTING_POLL_SECONDS, state.pick_up_changes, "watching the database"),
        periodic(
            SWEEP_SECONDS, lambda: _sweep_expired(state), "sweeping expired keys and sessions"
        ),
        periodic(
            PENDING_SWEEP_SECONDS, lambda: _expire_pending(state), "expiring uploads", now=True
        ),
        periodic(60, offload.tick, "moving blobs to the blob store", now=True),
    ]
    for job in jobs:
        lifespan.push_async_callback(cancel_and_wait, asyncio.ensure_future(job))


def _start_standby(lifespan: AsyncExitStack, state: ServerState, following: dict) -> None:
    """A standby (fazt.backup.standby): writes refused, the follower and the routing watch
    only; promotion hands over to a fresh worker, which starts everything else."""
    state.db.read_only = standby.read_only_error(state.db.path)
    follower = standby.Follower(state.db, following)
    running = asyncio.ensure_future(follower.run(lambda: request_reload("standby promoted")))
    lifespan.push_async_callback(follower.stop)
    lifespan.push_async_callback(cancel_and_wait, running)
    watch = periodic(ROUTING_POLL_SECONDS, state.pick_up_changes, "watching the database")
    lifespan.push_async_callback(cancel_and_wait, asyncio.ensure_future(watch))


SWEEP_SECONDS = 300


async def _sweep_expired(state: ServerState) -> None:
    """Expired kv keys and dashboard sessions are refused at once; this deletes them."""
    await state.db.write(kv.sweep_expired)
    await state.db.write(sessions.prune_expired, await session_max_age(state))


PENDING_SWEEP_SECONDS = 60


async def _expire_pending(state: ServerState) -> float:
    """Abandoned uploads go after deploy_pending_ttl_seconds (checked about 4 times per
    TTL, at most every minute); returns the wait until the next check."""
    await state.db.write(deployments.expire_pending)
    uploads = sys.modules.get("fazt.api.uploads")  # loaded at the first upload (idle memory):
    if uploads is not None:  # never loaded, nothing staged
        await uploads.forget_staged(state)
    ttl = await state.db.read(deployments.pending_ttl)
    return min(PENDING_SWEEP_SECONDS, max(1.0, ttl / 4))


async def _stop_quietly(stop, what: str) -> None:
    try:
        await stop()
    except Exception:  # what is stopped after it must still stop (analytics flush...)
        log.exception("stopping %s failed", what)


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
