"""The worker's side of an upgrade: check, download, verify, install, snapshot, then ask
the supervisor to hand over (fazt.server.supervisor runs the rest, fazt.upgrade.activate
provides its steps). Each step is recorded before it runs; its outcome is the next step."""

import asyncio
import logging
from dataclasses import dataclass

from fazt.backup.snapshot import BackupError, backup_before
from fazt.db import Database, settings
from fazt.release import index
from fazt.release.index import Release, ReleaseError
from fazt.release.install import fetch, install_artifact, install_root, verify
from fazt.upgrade import records
from fazt.upgrade.request import UpgradeRequest, request_path
from fazt.web import handover

log = logging.getLogger("fazt")
_running: set[asyncio.Task] = set()  # keeps background upgrades referenced


@dataclass(frozen=True)
class Plan:
    current: str
    target: Release | None
    latest: str | None
    warning: str | None = None


def plan(url: str, current: str, version: str | None) -> Plan:
    """What an upgrade from `url` would do (blocking: fetches and verifies the index)."""
    idx = index.fetch_verified(url)
    latest = index.latest_version(idx)
    wanted = version or latest
    if wanted is None or wanted == current:
        return Plan(current, None, latest)
    if version is None and not index.is_newer(wanted, current):
        return Plan(current, None, latest)  # never downgrade unless asked by version
    warning = None
    if not index.is_newer(wanted, current):
        warning = f"{wanted} is older than the running {current}: this is a downgrade"
    return Plan(current, index.pick(idx, wanted), latest, warning)


async def release_url(db: Database, override: str | None) -> str:
    return override or await db.read(settings.get, "release_url")


def start(db: Database, upgrade_id: str, release: Release) -> None:
    """Run the upgrade in the background; progress goes to the upgrades table."""
    task = asyncio.get_running_loop().create_task(_run(db, upgrade_id, release))
    _running.add(task)
    task.add_done_callback(_running.discard)


async def _run(db: Database, upgrade_id: str, release: Release) -> None:
    async def step(status: str, message: str) -> None:
        await db.write(records.step, upgrade_id, status, message)

    try:
        root = install_root()
        await step("downloading", f"downloading {release.url}")
        artifact = await asyncio.to_thread(fetch, release, root / "downloads")
        expected = f"the signed index ({release.sha256})"
        await step("verifying", f"checking size and sha256 against {expected}")
        await asyncio.to_thread(verify, release, artifact)
        target = root / "releases" / release.version
        await step("installing", f"size and sha256 match; installing into {target}")
        python = await asyncio.to_thread(
            install_artifact, artifact, root, release.version, lambda _line: None
        )
        artifact.unlink(missing_ok=True)
        await step("snapshotting", "backing up the database before activating")
        snapshot = await asyncio.to_thread(backup_before, f"upgrade to {release.version}", db.path)
        where = snapshot["file"] if snapshot else "nothing to back up"
        await step("restarting", f"snapshot: {where}; handing over to {release.version}")
        request = UpgradeRequest(upgrade_id, release.version, str(python), root, str(db.path))
        _request_handover(request)
    except (ReleaseError, BackupError, OSError) as exc:
        await step("failed", f"{exc}; nothing was changed")
    except Exception as exc:  # an unexpected bug must still end the upgrade record
        log.exception("upgrade %s failed", upgrade_id)
        await step("failed", f"unexpected error: {exc}; nothing was changed")


def _request_handover(request: UpgradeRequest) -> None:
    path = request_path(request.db)
    request.write(path)
    if not handover.request_upgrade():
        path.unlink(missing_ok=True)
        raise OSError("this server is not running under `fazt server start`'s supervisor")
