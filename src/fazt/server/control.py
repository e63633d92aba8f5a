"""Stop or restart a running server from another process (`fazt server stop/restart`).

The supervisor's pid is the one `<db>.lock` holds (fazt.server.guard); its children are
the workers. Stop is SIGTERM (the worker drains first); restart is SIGHUP, the
supervisor's zero-downtime handover (fazt.server.supervisor).
"""

import itertools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from fazt.server.guard import running_pid
from fazt.server.supervisor import DRAIN_DEADLINE, READY_DEADLINE

STOP_DEADLINE = DRAIN_DEADLINE + 10.0
RESTART_DEADLINE = READY_DEADLINE + DRAIN_DEADLINE + 10.0


class ControlError(RuntimeError):
    pass


def supervisor_of(db_path: Path) -> int:
    """The running supervisor's pid; ControlError when no server serves `db_path`."""
    pid = running_pid(db_path)
    if pid is None:
        raise ControlError(f"no fazt server is running on {db_path}")
    return pid


def stop(db_path: Path, timeout: float = STOP_DEADLINE) -> int:
    """SIGTERM the supervisor and wait until it has let go of the database; its pid."""
    pid = supervisor_of(db_path)
    _signal(pid, signal.SIGTERM)
    # The lock is released when the supervisor exits (even as an unreaped zombie).
    if not _until(lambda: running_pid(db_path) is None, timeout):
        raise ControlError(f"the server (pid {pid}) is still running after {timeout:.0f}s")
    return pid


def restart(db_path: Path, timeout: float = RESTART_DEADLINE) -> dict:
    """SIGHUP the supervisor; return once a new worker serves and the old one is gone."""
    pid = supervisor_of(db_path)
    port = served_port(pid)
    if port is None:
        raise ControlError(f"cannot tell which port the server (pid {pid}) serves")
    host = served_host(pid)
    old_workers = set(children(pid))
    old_instance = health(port, host).get("instance")
    seen_new: set[int] = set()
    _signal(pid, signal.SIGHUP)

    def done() -> bool:
        if not _alive(pid):
            raise ControlError(f"the server (pid {pid}) exited during the restart")
        now = set(children(pid))
        seen_new.update(now - old_workers)
        if seen_new and not (now - old_workers) and now & old_workers:
            # The supervisor killed the new worker and kept the old one.
            raise ControlError("the new worker failed to start; the old one keeps serving")
        instance = health(port, host).get("instance")
        return bool(now) and not (now & old_workers) and instance not in (None, old_instance)

    if not _until(done, timeout):
        raise ControlError(f"no new worker took over within {timeout:.0f}s")
    return {
        "pid": pid,
        "port": port,
        "workers": sorted(children(pid)),
        "instance": health(port, host).get("instance"),
    }


def served_port(pid: int) -> int | None:
    """The port the supervisor was started with (its --port argument), from /proc."""
    value = _argument(pid, "--port")
    return int(value) if value and value.isdigit() else None


def served_host(pid: int) -> str:
    """An address to reach the supervisor's --host on (loopback for a wildcard)."""
    host = _argument(pid, "--host") or "127.0.0.1"
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _argument(pid: int, flag: str) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    for name, value in itertools.pairwise(args):
        if name == flag:
            return value
    return None


def health(port: int, host: str = "127.0.0.1") -> dict:
    """The data of GET /health on host:port, or {} when nothing answers."""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        r = httpx.get(f"http://{netloc}/health", headers={"host": "localhost"}, timeout=2)
        return r.json()["data"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return {}


def children(pid: int) -> list[int]:
    """Live child processes of `pid` (the supervisor's workers)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        stat = _stat(int(entry))
        if stat and stat[1] == str(pid) and stat[0] != "Z":
            found.append(int(entry))
    return found


def uptime_seconds(pid: int) -> int | None:
    """How long the process has run, from /proc (None when it cannot be read)."""
    stat = _stat(pid)
    try:
        with open("/proc/uptime") as f:
            boot_seconds = float(f.read().split()[0])
    except OSError:
        return None
    if stat is None:
        return None
    started = int(stat[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of /proc/pid/stat
    return max(0, int(boot_seconds - started))


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        raise ControlError(f"the server (pid {pid}) is gone") from None
    except PermissionError:
        raise ControlError(f"not permitted to signal pid {pid} (another user's server?)") from None


def _until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False
