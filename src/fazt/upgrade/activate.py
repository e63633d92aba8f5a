"""The steps of activating an installed release, for the supervisor to run in order.

The sequence itself (hand over, verify, commit or roll back) is the supervisor's
(fazt.server.supervisor.Supervisor.run_upgrade); this module knows the install layout, the
health check and the upgrades table, and nothing of processes. The supervisor runs old
code with a request a worker wrote, so keep this small and stable (fazt.upgrade.request).
"""

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fazt.release.install import point, pointed_version
from fazt.upgrade.records import step_standalone
from fazt.upgrade.request import UpgradeRequest
from fazt.web.readiness import loopback_for

VERIFY_DEADLINE = 10.0


@dataclass(frozen=True)
class Links:
    """Where `current` and `previous` pointed before the switch (None: no such link)."""

    current: str | None
    previous: str | None


def record(request: UpgradeRequest, status: str, message: str) -> None:
    """Append a step to the upgrade's row (the supervisor has no Database object)."""
    step_standalone(request.db, request.id, status, message)


def switch_links(root: Path, version: str) -> Links | None:
    """Point `current` at the new release (service installs); the old targets, to restore."""
    if not (root / "current").is_symlink():
        return None
    before = Links(pointed_version(root, "current"), pointed_version(root, "previous"))
    if before.current and before.current != version:
        point(root, "previous", before.current)
    point(root, "current", version)
    return before


def restore_links(root: Path, links: Links | None) -> None:
    if links is None:
        return
    if links.current:
        point(root, "current", links.current)
    if links.previous:
        point(root, "previous", links.previous)


def served_version(host: str, port: int, expected: str) -> str | None:
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
