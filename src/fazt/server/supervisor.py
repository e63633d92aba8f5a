"""`fazt server start` is this supervisor; the server itself runs in a worker process.

Why (DESIGN §6): restarts that need no privilege and drop no connection. The
supervisor's pid is the one systemd or the terminal knows, and it never changes. To
restart (a new certificate, an upgrade), it starts a new worker, which binds the same
port (SO_REUSEPORT) and proves it answers; only then is the old worker told to stop
accepting and drain. If the new worker does not become ready, it is killed and the old
one keeps serving. The supervisor imports almost nothing, so it stays small.

How long a starting worker may take (docs/upgrade.md): the deadline is for silence, not
for the whole start. The worker reports progress on its ready pipe ("starting", "opening",
"opened", "proved", then "ready"); each report restarts the clock. A handover (reload, upgrade,
rollback) gives `worker_ready_deadline_seconds` (default 10 s) of silence, so a release
whose worker hangs is given up within seconds while the old worker keeps serving; while
the worker opens the database (a backup, then migrations of a big file) it may be silent
for OPENING_DEADLINE. A first start or the restart of a crashed worker has no old worker
to fall back on: READY_DEADLINE, as generous as a first start on a slow machine needs.

The supervisor owns the socket of the port and hands it to each worker (its fd), which
starts listening on it when it is about to serve; in HTTPS mode it does the same for the
TLS and redirect ports (read from the saved settings at each start). The supervisor's copy
keeps it open (and listening): while a crashed worker is replaced, connections wait in its
backlog instead of being refused. A handover gives the new worker a fresh socket, which joins the
port's SO_REUSEPORT group only when that worker listens (so a worker that fails to start
takes no connections; fazt.web.steer steers to the newest), and the old one is closed
once its worker is gone.

A worker that keeps dying is restarted for as long as the supervisor lives, with a
growing pause (capped by the `worker_restart_max_delay_seconds` setting); a worker that
served for STABLE_AFTER seconds resets the pause. The restarts of the last hour are
reported in the log, /health and `fazt server status`.

Signals: SIGTERM/SIGINT stop (the worker drains first); SIGHUP hands over to a fresh
worker of the same release; SIGUSR2 performs an upgrade requested by the worker
(run_upgrade: this module owns the sequence, fazt.upgrade.activate its steps).
"""

# Every import here stays in memory for the server's whole life (issue 22): only small
# modules at the top (no dataclasses, pathlib, argparse, ctypes, subprocess: ~5 MB
# together); what upgrades, settings and the child's setup need is imported where used.
import contextlib
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable

from fazt.backoff import Backoff
from fazt.server.sdnotify import notify
from fazt.web.handover import (
    RESTARTS_ENV,
    RESTARTS_KEPT,
    SUPERVISOR_ENV,
    Restart,
    encode_restarts,
)

READY_DEADLINE = 60.0  # silence allowed to a first worker or a restarted crashed one
READY_SILENCE_DEFAULT = 10.0  # in a handover: the `worker_ready_deadline_seconds` default
OPENING_DEADLINE = 600.0  # silence allowed while the worker opens (backs up, migrates) the db
GIVE_UP_GRACE = 1.0  # a worker given up on gets this long after SIGTERM, then SIGKILL
DRAIN_DEADLINE = 30.0  # in-flight requests of a retiring worker get this long
HANDLED = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR2, signal.SIGCHLD}
PR_SET_PDEATHSIG = 1
RESTART_BASE = 0.25  # the pause before the first restart; doubles while workers keep dying
RESTART_CAP_DEFAULT = 30.0
STABLE_AFTER = 60.0  # a worker that served this long was not part of a crash loop
HOUR = 3600.0
CRASH_LOOP = 3  # this many quick deaths in a row is reported as a crash loop


class WorkerFailed(RuntimeError):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code  # the worker's exit code, when it exited
        self.pid = 0  # the worker's pid, when one was started

    @property
    def killed(self) -> bool:
        """Killed by a signal from outside (the OOM killer...), not failed on its own."""
        return self.code is not None and self.code < 0


class TimeoutExpired(Exception):
    """A worker did not exit within the time given."""


class ExitedProcess:
    """A worker that died before it reported ready (it was killed while starting)."""

    def __init__(self, pid: int, code: int) -> None:
        self.pid, self.returncode = pid, code

    def poll(self) -> int:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode


class AdoptedProcess:
    """A worker process of ours: started by start_process, or by this pid before it exec'd
    into a new supervisor (see reexec)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutExpired(f"worker {self.pid} still runs after {timeout}s")
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # once reaped, the pid may be another process's
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Worker:
    def __init__(
        self,
        proc: AdoptedProcess | ExitedProcess,
        python: str,
        sock: socket.socket | None = None,
        started: float = 0.0,
        extra: list[socket.socket] | None = None,
    ) -> None:
        self.proc, self.python = proc, python
        self.sock = sock  # the listening socket it serves (None: its own)
        self.started = started  # time.monotonic() when it began to serve
        self.extra = extra if extra is not None else []  # HTTPS mode's ports

    @property
    def pid(self) -> int:
        return self.proc.pid


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (SO_REUSEPORT) for a worker, which listens on it: only
    then does it join the port's group and get connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _seconds(value: str | None, default: float) -> float:
    """A seconds setting's value, read from the file at each use (it takes effect at once)."""
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def https_addresses(db: str) -> list[tuple[str, int]]:
    """Where HTTPS mode listens, read from the saved settings at a handover (a first start
    is told by `fazt server start`, so an idle supervisor never loads sqlite3)."""
    from fazt.server.https_ports import https_addresses as saved

    return saved(db)


def restart_cap(db: str) -> float:
    """The longest pause between restarts: the setting, else the default."""
    # Imported here: the settings schema and sqlite3 are ~4 MB an idle supervisor lacks.
    from pathlib import Path

    from fazt.db import settings

    value = settings.saved(Path(db), "worker_restart_max_delay_seconds")
    return _seconds(value, RESTART_CAP_DEFAULT)


def ready_silence(db: str) -> float:
    """How long a handover's new worker may stay silent before it is given up."""
    from pathlib import Path

    from fazt.db import settings

    value = settings.saved(Path(db), "worker_ready_deadline_seconds")
    return _seconds(value, READY_SILENCE_DEFAULT)


class Restarts:
    """The worker deaths the supervisor answered with a restart: the pause before each
    restart, and the history reported to the next worker."""

    def __init__(self) -> None:
        self.history: list[Restart] = []
        self.quick = 0  # deaths in a row of workers that served less than STABLE_AFTER

    def died(self, code: int | None, served: float, cap: float) -> float:
        """Record a death after `served` seconds of serving; the pause before the next try."""
        now = time.time()
        recent = [r for r in self.history if now - r[0] < HOUR]
        self.history = [*recent[-(RESTARTS_KEPT - 1) :], (now, code)]
        self.quick = 1 if served >= STABLE_AFTER else self.quick + 1
        return Backoff(base=RESTART_BASE, cap=cap).delay(self.quick)

    @property
    def looping(self) -> bool:
        return self.quick >= CRASH_LOOP


def start_process(cmd: list[str], env: dict[str, str], pass_fds: tuple[int, ...]):
    """Fork and exec `cmd` with only stdin/out/err and `pass_fds` open; OSError when it
    cannot be run. What subprocess.Popen does for us, without its ~1 MB of imports (threading,
    locale, re, selectors) in a process that lives as long as the server."""
    report_r, report_w = os.pipe2(os.O_CLOEXEC)  # closed by a successful exec
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(report_r)
            _child_setup(pass_fds, report_w)
            os.execvpe(cmd[0], cmd, env)
        except OSError as exc:
            os.write(report_w, str(exc.errno or 0).encode())
        finally:
            os._exit(127)
    os.close(report_w)
    with open(report_r, "rb") as report:
        failed = report.read()  # empty: the exec succeeded
    if failed:
        os.waitpid(pid, 0)
        errno = int(failed)
        raise OSError(errno, os.strerror(errno), cmd[0])
    return AdoptedProcess(pid)


def _child_setup(pass_fds: tuple[int, ...], report_fd: int) -> None:
    # Runs in the child between fork and exec: undo our blocked and ignored signals, keep
    # only the fds it is given, and die with us (a `kill -9` of the supervisor must not
    # leave a worker holding the port).
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for signum in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; exec keeps that
        signal.signal(signum, signal.SIG_DFL)
    keep = sorted({0, 1, 2, report_fd, *pass_fds})
    for low, high in zip(keep, [*keep[1:], os.sysconf("SC_OPEN_MAX")], strict=True):
        os.closerange(low + 1, high)
    for fd in pass_fds:
        os.set_inheritable(fd, True)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes  # here, in the child about to exec: the supervisor never holds it

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Supervisor:
    def __init__(
        self,
        host: str,
        port: int,
        db: str,
        say: Callable[[str], None],
        lock_fd: int | None = None,
        python: str = sys.executable,
        https: list[tuple[str, int]] | None = None,
    ) -> None:
        self.host, self.port, self.db, self.lock_fd = host, port, db, lock_fd
        self.https = https or []  # HTTPS mode's addresses when it started (from the CLI)
        # What follows `python -m fazt` to start a worker.
        self.worker_args = ["server", "worker", "--host", host, "--port", str(port), "--db", db]
        self.say = say
        self.python = python
        self.worker: Worker | None = None
        self.restarts = Restarts()

    # -- running workers ------------------------------------------------------------

    def bind(self) -> socket.socket:
        """A new socket for a worker; WorkerFailed when the port cannot be bound."""
        try:
            return bind(self.host, self.port)
        except OSError as exc:
            raise WorkerFailed(f"cannot listen on {self.host}:{self.port}: {exc}") from None

    def bind_extra(self, addresses: list[tuple[str, int]]) -> list[socket.socket]:
        """New sockets for HTTPS mode's ports; one that cannot be bound is left to the
        worker, which binds it itself (and reports the error if it cannot either)."""
        found = []
        for host, port in addresses:
            if port == self.port:
                continue
            try:
                found.append(bind(host, port))
            except OSError as exc:
                self.say(f"cannot hold {host}:{port} for the worker: {exc}")
        return found

    @staticmethod
    def close_all(socks: list[socket.socket]) -> None:
        for sock in socks:
            sock.close()
        socks.clear()

    def spawn(
        self,
        python: str,
        sock: socket.socket,
        extra: list[socket.socket] | None = None,
        silence: float = READY_DEADLINE,
    ) -> Worker:
        """Start a worker serving `sock` (and `extra`, HTTPS mode's ports) and return once it
        serves; raise WorkerFailed when it fails or stays silent for `silence` seconds (the
        sockets stay open: the caller owns them)."""
        extra = extra or []
        read_fd, write_fd = os.pipe()
        env = {
            **os.environ,
            SUPERVISOR_ENV: str(os.getpid()),
            RESTARTS_ENV: encode_restarts(self.restarts.history),
        }
        cmd = [python, "-m", "fazt", *self.worker_args, "--ready-fd", str(write_fd)]
        cmd += ["--listen-fd", str(sock.fileno())]
        for each in extra:
            cmd += ["--extra-listen-fd", str(each.fileno())]
        try:
            proc = start_process(
                cmd, env, (write_fd, sock.fileno(), *(each.fileno() for each in extra))
            )
        except OSError as exc:
            os.close(read_fd)
            raise WorkerFailed(f"cannot start {python}: {exc}") from None
        finally:
            os.close(write_fd)
        try:
            self._wait_ready(proc, read_fd, silence)
        except WorkerFailed as exc:
            exc.pid = proc.pid
            self.give_up(proc)
            raise
        finally:
            os.close(read_fd)
        return Worker(proc, python, sock, time.monotonic(), extra)

    def _wait_ready(self, proc: AdoptedProcess, fd: int, silence: float) -> None:
        """Return at "ready"; each progress report restarts the `silence` clock."""
        deadline, pending = time.monotonic() + silence, b""
        while time.monotonic() < deadline:
            if self._stop_requested():
                raise WorkerFailed("stop requested while a worker was starting")
            readable, _, _ = select.select([fd], [], [], 0.1)
            if readable:
                chunk = os.read(fd, 256)
                if not chunk:  # it closed the pipe without "ready": exiting
                    raise self._ended(proc, "before serving")
                *reports, pending = (pending + chunk).split(b"\n")
                if b"ready" in reports or pending.startswith(b"ready"):
                    return
                if reports:  # progress: the clock starts again
                    allowed = OPENING_DEADLINE if reports[-1] == b"opening" else silence
                    deadline = time.monotonic() + allowed
            elif proc.poll() is not None:
                raise self._ended(proc, "")
        raise WorkerFailed(f"the new worker did not serve within {silence:g}s of silence")

    @staticmethod
    def _ended(proc: AdoptedProcess, when: str) -> WorkerFailed:
        """The failure of a worker that exited (or closed its pipe) before serving."""
        try:
            code = proc.wait(GIVE_UP_GRACE)
        except TimeoutExpired:
            return WorkerFailed("the new worker closed its ready pipe without serving")
        return WorkerFailed(f"the new worker exited with code {code} {when}".rstrip(), code)

    def _stop_requested(self) -> bool:
        pending = signal.sigpending()
        return signal.SIGTERM in pending or signal.SIGINT in pending

    @staticmethod
    def retire(proc: AdoptedProcess, quiet: bool = False) -> int:
        """SIGTERM (stop accepting, drain), then SIGKILL after the drain deadline."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(DRAIN_DEADLINE)
        except TimeoutExpired:
            proc.kill()
            return proc.wait()

    @staticmethod
    def give_up(proc: AdoptedProcess) -> None:
        """End a worker that never served: SIGTERM, then SIGKILL after a short grace (a
        hung worker must not hold up the rollback for a drain deadline)."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(GIVE_UP_GRACE)
        except TimeoutExpired:
            proc.kill()
            proc.wait()

    def handover(self, python: str, reason: str) -> Worker:
        """Replace the running worker by a new one of `python`; raise WorkerFailed."""
        notify("RELOADING=1", f"STATUS=handing over ({reason})")
        old = self.worker
        try:
            sock = self.bind()  # joins the group when the worker listens: the newest
            extra = self.bind_extra(https_addresses(self.db))  # settings may have changed
            try:
                new = self.spawn(python, sock, extra, ready_silence(self.db))
            except WorkerFailed:
                sock.close()  # (it may have listened: its queued connections go too)
                self.close_all(extra)
                raise
        except WorkerFailed as exc:
            notify("READY=1", "STATUS=serving (handover failed)")
            self.say(f"handover ({reason}) failed, the old worker keeps serving: {exc}")
            raise
        self.worker = new
        if old is not None:
            self.let_go(old)
            self.retire(old.proc)
        self.say(f"worker {new.pid} took over ({reason})")
        notify("READY=1", f"MAINPID={os.getpid()}", "STATUS=serving")
        return new

    # -- the main loop --------------------------------------------------------------

    def start(
        self, adopt: int | None = None, listen_fd: int | None = None, extra_fds: tuple = ()
    ) -> bool:
        """The first worker: a new one, or the running `adopt` (after a re-exec) serving
        `listen_fd` (None: a worker of an older release, serving a socket of its own) and
        `extra_fds` (HTTPS mode's ports)."""
        if adopt is not None:
            sock = None if listen_fd is None else socket.socket(fileno=listen_fd)
            extra = [socket.socket(fileno=fd) for fd in extra_fds]
            process = AdoptedProcess(adopt)
            self.worker = Worker(process, self.python, sock, time.monotonic(), extra)
        else:
            extra = []
            try:
                sock = self.bind()
                extra = self.bind_extra(self.https)
                self.worker = self.spawn(self.python, sock, extra)
            except WorkerFailed as exc:
                if not exc.killed or self._stop_requested():
                    self.say(f"cannot start: {exc}")  # its own error: tell at once
                    return False
                # Killed from outside while starting: restarted like any crashed worker.
                process = ExitedProcess(exc.pid, exc.code)
                self.worker = Worker(process, self.python, sock, time.monotonic(), extra)
        notify("READY=1", "STATUS=serving")
        return True

    def stop(self) -> int:
        """Retire the worker (it drains first); its exit code."""
        notify("STOPPING=1")
        if self.worker is None or self.worker.proc.poll() is not None:
            return 0  # nothing left to drain
        self.let_go(self.worker)
        return self.retire(self.worker.proc)

    @staticmethod
    def let_go(worker: Worker) -> None:
        """Close our copy of a retiring worker's socket: once the worker stops listening
        (at SIGTERM) the socket closes, and new connections are refused at once (or go
        to the new worker) instead of waiting in a backlog nobody will accept from."""
        if worker.sock is not None:
            worker.sock.close()
            worker.sock = None
        Supervisor.close_all(worker.extra)

    def run(
        self, adopt: int | None = None, listen_fd: int | None = None, extra_fds: tuple = ()
    ) -> int:
        """Start a worker (or adopt `adopt`), act on signals until told to stop; exit code."""
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        if not self.start(adopt, listen_fd, extra_fds):
            return 1
        while True:
            if self.worker.proc.poll() is not None and not self.restart_crashed():
                return self.stop()
            info = signal.sigtimedwait(HANDLED, 1.0)
            signum = info.si_signo if info else None
            if signum in (signal.SIGTERM, signal.SIGINT):
                return self.stop()
            if signum == signal.SIGHUP:
                with contextlib.suppress(WorkerFailed):
                    self.handover(self.worker.python, "reload")
            elif signum == signal.SIGUSR2:
                self.run_upgrade()

    def restart_crashed(self) -> bool:
        """A worker died on its own: start another, pausing longer while they keep dying,
        for as long as it takes. False when asked to stop meanwhile."""
        dead = self.worker
        code, served = dead.proc.returncode, time.monotonic() - dead.started
        who = f"worker {dead.pid}"
        while True:
            pause = self.restarts.died(code, served, restart_cap(self.db))
            self._report_death(who, code, pause)
            if self._stop_during(pause):
                return False
            try:
                # The dead worker's socket (connections waiting in its backlog) is reused.
                if dead.sock is None:  # a worker of an older release bound its own
                    dead.sock = self.bind()
                if not dead.extra:  # HTTPS mode's sockets, likewise (none when it is off)
                    dead.extra = self.bind_extra(self.https)
                self.worker = self.spawn(dead.python, dead.sock, dead.extra)
            except WorkerFailed as exc:
                if self._stop_requested():
                    return False
                self.say(f"restart failed: {exc}")
                code, served, who = exc.code, 0.0, "the new worker"
                continue
            return True

    def _report_death(self, who: str, code: int | None, pause: float) -> None:
        count = len(self.restarts.history)
        self.say(
            f"{who} exited with code {code}; starting a new one in {pause:.2f}s "
            f"(restart {count} in the last hour)"
        )
        if self.restarts.looping:
            self.say(
                f"crash loop: {self.restarts.quick} workers in a row died within "
                f"{STABLE_AFTER:.0f}s of starting; restarting with a growing pause "
                "(connections wait in the backlog meanwhile)"
            )
        notify(f"STATUS=restarting a crashed worker ({count} restarts in the last hour)")

    def _stop_during(self, seconds: float) -> bool:
        """Wait `seconds`; True (at once) if SIGTERM or SIGINT arrives meanwhile."""
        if self._stop_requested():
            return True
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            info = signal.sigtimedwait({signal.SIGTERM, signal.SIGINT}, min(left, 1.0))
            if info is not None:
                return True
        return self._stop_requested()

    def reexec(self, python: str) -> None:
        """Become the supervisor of `python`'s release, keeping our pid and worker."""
        self.say(f"supervisor continues as {python}")
        try:
            sock = self.worker.sock
            exec_supervisor(
                self.host,
                self.port,
                self.db,
                self.lock_fd,
                python,
                adopt=self.worker.pid,
                listen_fd=None if sock is None else sock.fileno(),
                extra_fds=[each.fileno() for each in self.worker.extra],
                https=self.https,
            )
        except OSError as exc:
            self.say(f"staying on the old supervisor: cannot exec {python}: {exc}")

    # -- upgrades -------------------------------------------------------------------
    # The whole sequence is here; fazt.upgrade.activate provides its steps, imported only
    # when an upgrade comes (the supervisor stays small).

    def run_upgrade(self) -> None:
        """Hand over to the release named in the upgrade request; roll back on failure."""
        from fazt.upgrade.request import RequestError, request_path, take

        try:
            request = take(request_path(self.db))
        except RequestError as exc:
            self.say(f"ignoring upgrade signal: {exc}")
            return
        try:
            self._upgrade_to(request)
        except Exception as exc:  # e.g. the database cannot record a step: keep supervising
            self.say(f"upgrade {request.id} to {request.version} stopped: {exc!r}")

    def _upgrade_to(self, request) -> None:  # a fazt.upgrade.request.UpgradeRequest
        """Switch `current`, hand over, verify /health; commit (and re-exec) or roll back."""
        from fazt.upgrade import activate

        version, old = request.version, self.worker
        links = activate.switch_links(request.root, version)
        try:
            self.handover(request.python, f"upgrade to {version}")
        except WorkerFailed as exc:
            activate.restore_links(request.root, links)
            activate.record(request, "rolled_back", f"{version} did not start: {exc}")
            return
        reported = activate.served_version(self.host, self.port, version)
        if reported == version:
            message = f"{version} serves (verified: /health reports {version})"
            activate.record(request, "committed", message)
            self.reexec(request.python)  # returns only if that failed
            return
        why = f"after the handover /health reported {reported or 'nothing'}, not {version}"
        try:
            self.handover(old.python, f"rollback from {version}")
        except WorkerFailed as exc:
            activate.record(request, "failed", f"{why}; rolling back failed too: {exc}")
            return
        activate.restore_links(request.root, links)
        activate.record(request, "rolled_back", why)


# -- the lean entry point ---------------------------------------------------------------
# `fazt server start` prepares the database with the whole CLI loaded, then execs into
# this (same pid, so systemd and the terminal see no change) to shed those imports:
# the supervisor lives as long as the server, and its memory counts.


# Not `python -m fazt.server.supervisor` (which still works, for older releases): runpy
# would keep a second copy of this module as __main__, ~1 MB for the server's whole life.
EXEC_CODE = "import sys; from fazt.server.supervisor import main; sys.exit(main())"


def exec_supervisor(
    host: str,
    port: int,
    db_path: "str | os.PathLike[str]",
    lock_fd: int | None,
    python: str = sys.executable,
    adopt: int | None = None,
    listen_fd: int | None = None,
    extra_fds: list[int] | None = None,
    https: list[tuple[str, int]] | None = None,
) -> None:
    """Replace this process by the supervisor of `python`'s release (returns only on error).

    `adopt` hands a running worker to the new supervisor: after an upgrade, the
    supervisor re-execs into the new release so that it runs the new code too; with it
    go `listen_fd`, the socket that worker serves, and `extra_fds` (HTTPS mode's ports).
    """
    args = ["--host", host, "--port", str(port), "--db", str(db_path)]
    if lock_fd is not None:
        os.set_inheritable(lock_fd, True)
        args += ["--lock-fd", str(lock_fd)]
    if adopt is not None:
        args += ["--adopt", str(adopt)]
    if listen_fd is not None:
        os.set_inheritable(listen_fd, True)
        args += ["--listen-fd", str(listen_fd)]
    for fd in extra_fds or []:
        os.set_inheritable(fd, True)
        args += ["--extra-listen-fd", str(fd)]
    for https_host, https_port in https or []:
        args += ["--https-listen", f"{https_host}:{https_port}"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, "-c", EXEC_CODE, *args])


class Args:
    """The supervisor's command line, as exec_supervisor writes it."""

    host: str
    port: int
    db: str
    lock_fd: int | None = None  # keeps the ServerLock held
    adopt: int | None = None  # a running worker's pid
    listen_fd: int | None = None  # the socket it serves
    extra_listen_fd: list[int]  # HTTPS mode's ports' sockets
    https_listen: list[str]  # HTTPS mode's addresses (host:port) to hold for the workers


ARGS_NAMED = {
    "--host": str,
    "--port": int,
    "--db": str,
    "--lock-fd": int,
    "--adopt": int,
    "--listen-fd": int,
}
ARGS_REPEATED = {"--extra-listen-fd": int, "--https-listen": str}


def parse(argv: list[str]) -> Args:
    """`--name value` pairs (argparse would cost the supervisor ~1 MB for its whole life);
    SystemExit(2) with a message on anything else, as argparse would."""
    args = Args()
    args.extra_listen_fd, args.https_listen = [], []
    pairs = iter(argv)
    try:
        for name in pairs:
            value = next(pairs)
            attr = name[2:].replace("-", "_")
            if name in ARGS_NAMED:
                setattr(args, attr, ARGS_NAMED[name](value))
            elif name in ARGS_REPEATED:
                getattr(args, attr).append(ARGS_REPEATED[name](value))
            else:
                raise ValueError(f"unknown argument {name}")
        for required in ("host", "port", "db"):
            if not hasattr(args, required):
                raise ValueError(f"--{required} is required")
    except StopIteration:
        return _bad_args(argv, "a value is missing")
    except ValueError as exc:
        return _bad_args(argv, str(exc))
    return args


def _bad_args(argv: list[str], why: str) -> Args:
    print(f"fazt server start (supervisor): bad arguments {argv}: {why}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    https = [(h, int(p)) for h, _, p in (a.rpartition(":") for a in args.https_listen)]

    def say(line: str) -> None:
        print(f"fazt: {line}", flush=True)

    supervisor = Supervisor(args.host, args.port, args.db, say, lock_fd=args.lock_fd, https=https)
    extra = tuple(args.extra_listen_fd)
    code = supervisor.run(adopt=args.adopt, listen_fd=args.listen_fd, extra_fds=extra)
    print("fazt stopped", flush=True)
    return code


if __name__ == "__main__":
    # Run the module under its real name, so that its classes (WorkerFailed) are the ones
    # other modules import, not copies living in __main__.
    from fazt.server import supervisor as real_module

    sys.exit(real_module.main())
