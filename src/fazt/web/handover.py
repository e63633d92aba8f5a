"""Ask the supervising `fazt server start` process to replace this worker without downtime.

The supervisor starts a fresh worker (same release, or a newly activated one), waits until
it listens and reports ready, then tells the old worker to stop accepting and drain.
"""

import os
import signal
import time

SUPERVISOR_ENV = "FAZT_SUPERVISOR_PID"
# The supervisor's recent worker restarts, handed to each worker it starts, so that the
# serving worker can report a crash loop (/health) though it never saw the crashes.
RESTARTS_ENV = "FAZT_WORKER_RESTARTS"
RESTARTS_KEPT = 200  # the environment stays small however long a crash loop runs

Restart = tuple[float, int | None]  # (unix time, the dead worker's exit code)


def supervisor_pid() -> int | None:
    """The pid of the supervisor that started this worker, if any."""
    value = os.environ.get(SUPERVISOR_ENV, "")
    return int(value) if value.isdigit() else None


def _signal_supervisor(signum: int) -> bool:
    pid = supervisor_pid()
    if pid is None:
        return False
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def request_upgrade() -> bool:
    """Ask the supervisor to perform the upgrade written to `<db>.upgrade-request`."""
    return _signal_supervisor(signal.SIGUSR2)


def request_reload(reason: str) -> bool:
    """Start a replacement worker and hand the listening ports over to it.

    Used after a new TLS certificate is stored. Returns False when this process is not
    supervised (a plain restart is then needed to pick the change up).
    """
    return _signal_supervisor(signal.SIGHUP)


def encode_restarts(restarts: list[Restart]) -> str:
    """The value of RESTARTS_ENV for `restarts` (oldest first)."""
    return ",".join(f"{at:.0f}:{'' if code is None else code}" for at, code in restarts)


def recent_restarts(within: float = 3600.0, value: str | None = None) -> list[Restart]:
    """Restarts of this worker's predecessors in the last `within` seconds, oldest first."""
    now, found = time.time(), []
    raw = os.environ.get(RESTARTS_ENV, "") if value is None else value
    for item in filter(None, raw.split(",")):
        at, _, code = item.partition(":")
        try:
            restart = (float(at), int(code) if code else None)
        except ValueError:
            continue  # written by another release: ignore what we cannot read
        if now - restart[0] < within:
            found.append(restart)
    return found
