"""The supervisor's side of an upgrade: activate, hand over, verify, commit or roll back.

Runs in the supervisor (old code) with a request the worker wrote; keep this module
small and its request format stable, since supervisors of older releases read it.
"""

import json
import time
import urllib.request
from pathlib import Path

from fazt.release.install import point, pointed_version
from fazt.upgrade.records import step_standalone
from fazt.web.readiness import loopback_for

VERIFY_DEADLINE = 10.0


def perform_handover_upgrade(supervisor, request: dict) -> None:
    from fazt.server.supervisor import WorkerFailed

    db, upgrade_id, version = request["db"], request["id"], request["version"]
    root = Path(request["root"])
    old = supervisor.worker
    links = _switch_links(root, version)
    try:
        supervisor.handover(request["python"], f"upgrade to {version}")
    except WorkerFailed as exc:
        _restore_links(root, links)
        step_standalone(db, upgrade_id, "rolled_back", f"{version} did not start: {exc}")
        return
    reported = _served_version(supervisor.host, supervisor.port, version)
    if reported == version:
        step_standalone(
            db, upgrade_id, "committed", f"{version} serves (verified: /health reports {version})"
        )
        supervisor.reexec(request["python"])  # returns only if that failed
        return
    why = f"after the handover /health reported {reported or 'nothing'}, not {version}"
    try:
        supervisor.handover(old.python, f"rollback from {version}")
    except WorkerFailed as exc:
        step_standalone(db, upgrade_id, "failed", f"{why}; rolling back failed too: {exc}")
        return
    _restore_links(root, links)
    step_standalone(db, upgrade_id, "rolled_back", why)


def _switch_links(root: Path, version: str) -> tuple[str | None, str | None] | None:
    """Point `current` at the new release (service installs); remember the old targets."""
    if not (root / "current").is_symlink():
        return None
    before = (pointed_version(root, "current"), pointed_version(root, "previous"))
    if before[0] and before[0] != version:
        point(root, "previous", before[0])
    point(root, "current", version)
    return before


def _restore_links(root: Path, links: tuple[str | None, str | None] | None) -> None:
    if links is None:
        return
    current, previous = links
    if current:
        point(root, "current", current)
    if previous:
        point(root, "previous", previous)


def _served_version(host: str, port: int, expected: str) -> str | None:
    """The version /health reports, polled until it is `expected` or the deadline."""
    deadline = time.monotonic() + VERIFY_DEADLINE
    seen = None
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(
                f"http://{loopback_for(host)}:{port}/health", headers={"host": "localhost"}
            )
            with urllib.request.urlopen(req, timeout=2) as response:
                seen = json.loads(response.read())["data"]["version"]
            if seen == expected:
                return seen
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.2)
    return seen
