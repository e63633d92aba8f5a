"""Drive a server's upgrade over its API and report only what the server proves.

`POST /api/upgrade` answers with an upgrade id; we poll `GET /api/upgrade/{id}` until the
record is finished (committed, rolled back or failed), tolerating the moments when the
server restarts and refuses connections. A committed upgrade counts as done only once
`GET /health` reports the new version: "success" is verified, never assumed.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from fazt.remote.client import ApiError, FaztClient

DEFAULT_TIMEOUT = 300.0
POLL_INTERVAL = 0.5
REQUEST_TIMEOUT = 30.0  # per call; the whole upgrade has its own deadline
CONFIRM_WINDOW = 15.0

UPGRADED = "upgraded"
ALREADY_LATEST = "already_latest"
ROLLED_BACK = "rolled_back"
FAILED = "failed"


@dataclass
class Outcome:
    """What happened to one upgrade, and the one line that says so."""

    peer: str
    url: str
    result: str  # upgraded | already_latest | rolled_back | failed
    message: str
    from_version: str | None = None
    to_version: str | None = None
    running_version: str | None = None  # what /health reported at the end
    upgrade_id: str | None = None
    warning: str | None = None
    steps: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result in (UPGRADED, ALREADY_LATEST)

    @property
    def verified(self) -> bool:
        return self.ok and self.running_version is not None

    def line(self) -> str:
        if self.result == UPGRADED:
            return (
                f"upgraded {self.peer} from {self.from_version} to {self.to_version} "
                f"(verified: /health reports {self.running_version})"
            )
        if self.result == ALREADY_LATEST:
            return (
                f"{self.peer} already runs {self.running_version}, the latest version "
                f"(verified: /health reports {self.running_version})"
            )
        if self.result == ROLLED_BACK:
            return f"upgrade of {self.peer} rolled back: {self.message}"
        return f"upgrade of {self.peer} failed: {self.message}"

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok, "verified": self.verified, "line": self.line()}


def check(client: FaztClient, version: str | None = None, url: str | None = None) -> dict:
    """`POST /api/upgrade?check=true`: current and latest version, nothing changes."""
    return client.post("/api/upgrade", params={"check": "true"}, json=_body(version, url))


def _body(version: str | None, url: str | None) -> dict:
    return {k: v for k, v in (("version", version), ("url", url)) if v}


def upgrade(
    client: FaztClient,
    peer: str,
    *,
    version: str | None = None,
    url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = POLL_INTERVAL,
    on_step: Callable[[dict], None] | None = None,
) -> Outcome:
    """Start an upgrade and follow it to a verified end, or say why it did not get there."""
    deadline = time.monotonic() + timeout
    outcome = Outcome(peer, client.url, FAILED, "")
    try:
        started = client.post("/api/upgrade", json=_body(version, url))
    except ApiError as exc:
        if exc.code == "UPGRADE_IN_PROGRESS":
            outcome.message = f"another upgrade is already running on {client.url} ({exc})"
        else:
            outcome.message = str(exc)
        return outcome
    outcome.from_version = started.get("from_version") or started.get("current_version")
    outcome.to_version = started.get("to_version") or started.get("latest_version")
    outcome.warning = started.get("warning")
    if started.get("action") == "already_latest":
        return _confirm(client, outcome, ALREADY_LATEST, outcome.from_version, deadline)
    outcome.upgrade_id = started.get("id")
    if not outcome.upgrade_id:
        outcome.message = f"{client.url} answered without an upgrade id: {started!r}"
        return outcome

    record, last_error = None, None
    while True:
        try:
            record = client.get(f"/api/upgrade/{outcome.upgrade_id}")
            last_error = None
        except ApiError as exc:
            if exc.status in (401, 403):  # a rejected token will not heal by waiting
                outcome.message = str(exc)
                return outcome
            last_error = str(exc)  # restarting: refused connections, 502s, ...
        if record is not None:
            for step in record.get("steps") or []:
                if step not in outcome.steps:
                    outcome.steps.append(step)
                    if on_step:
                        on_step(step)
            if record.get("finished"):
                break
        if time.monotonic() >= deadline:
            status = record.get("status") if record else "unknown"
            outcome.message = (
                f"no final answer from {client.url} within {timeout:g}s "
                f"(last status: {status}"
                + (f"; last error: {last_error}" if last_error else "")
                + f"); check with `fazt remote status {peer}`"
            )
            return outcome
        time.sleep(interval)

    status, why = record.get("status"), record.get("message") or "no reason given"
    outcome.from_version = record.get("from_version") or outcome.from_version
    outcome.to_version = record.get("to_version") or outcome.to_version
    if status == "committed":
        return _confirm(client, outcome, UPGRADED, outcome.to_version, deadline)
    if status == "rolled_back":
        outcome.result = ROLLED_BACK
        try:
            outcome.running_version = _wait_for_health(client, deadline)
            outcome.message = f"{why}; still running {outcome.running_version}"
        except HealthUnreachable as exc:
            outcome.message = f"{why}; and /health does not answer: {exc}"
        return outcome
    outcome.message = why if status == "failed" else f"unexpected final status {status!r}: {why}"
    return outcome


class HealthUnreachable(Exception):
    """/health did not answer before the deadline; the message is the last error."""


def _wait_for_health(client: FaztClient, deadline: float) -> str:
    """The version /health reports, retrying until the deadline; HealthUnreachable if never."""
    while True:
        try:
            data, _ = client.health()
            return str(data.get("version"))
        except ApiError as exc:
            if time.monotonic() >= deadline:
                raise HealthUnreachable(str(exc)) from None
        time.sleep(POLL_INTERVAL)


def _confirm(
    client: FaztClient, outcome: Outcome, result: str, expected: str | None, deadline: float
) -> Outcome:
    """Set `result` only once /health reports `expected`; the old process may answer for a
    moment after the handover, so a mismatch is retried for up to CONFIRM_WINDOW."""
    window = min(deadline, time.monotonic() + CONFIRM_WINDOW)
    claim = "the upgrade committed" if result == UPGRADED else "it already runs the latest"
    while True:
        try:
            running = _wait_for_health(client, deadline)
        except HealthUnreachable as exc:
            outcome.message = f"the server said {claim}, but /health does not answer: {exc}"
            return outcome
        outcome.running_version = running
        if not expected or running == expected:
            outcome.result = result
            return outcome
        if time.monotonic() >= window:
            outcome.message = (
                f"the server said {claim}, but /health reports {running}, not {expected}"
            )
            return outcome
        time.sleep(POLL_INTERVAL)
