"""Ask the supervising `fazt server start` process to replace this worker without downtime.

The supervisor starts a fresh worker (same release, or a newly activated one), waits until
it listens and reports ready, then tells the old worker to stop accepting and drain.
"""

import os
import signal

SUPERVISOR_ENV = "FAZT_SUPERVISOR_PID"


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
