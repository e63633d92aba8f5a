"""Background work of a running server: scheduled backups and the Litestream process.

Both run as asyncio tasks but do their blocking work off the event loop (`run_cpu`,
`db.read`, subprocesses), and both re-read their settings while running, so
`fazt backup schedule` and `fazt replicate enable/disable` take effect without a restart.
"""

import asyncio
import logging
import re
import time
from datetime import datetime
from pathlib import Path

from fazt.backup import replicate, snapshot
from fazt.cpu import run_cpu
from fazt.db import Database, settings
from fazt.periodic import cancel_and_wait, periodic

log = logging.getLogger("fazt")
SCHEDULE_POLL = 5.0  # how soon `fazt backup schedule` changes are noticed
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> int:
    """'24h' -> 86400 seconds; accepts Ns, Nm, Nh, Nd."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"bad interval {text!r}: use e.g. 30m, 6h, 24h, 7d")
    return int(match.group(1)) * _UNIT[match.group(2)]


def backup_folder(values: dict[str, str]) -> Path:
    return Path(values.get("backup_dir") or snapshot.default_backup_dir()).expanduser()


def last_scheduled(folder: Path) -> float | None:
    """Unix time of the newest scheduled backup in `folder`."""
    for entry in snapshot.list_backups(folder):
        if entry.get("reason") == "scheduled" and entry.get("created_at"):
            stamp = entry["created_at"].replace("Z", "+00:00")
            return datetime.fromisoformat(stamp).timestamp()
    return None


def run_scheduled_if_due(db_path: Path, values: dict[str, str]) -> dict | None:
    """Take a scheduled backup if one is due, then prune; blocking (run it off the loop)."""
    every = values.get("backup_every") or ""
    if not every:
        return None
    interval = parse_every(every)
    folder = backup_folder(values)
    last = last_scheduled(folder)
    if last is not None and time.time() - last < interval:
        return None
    manifest = snapshot.create_snapshot(db_path, folder=folder, reason="scheduled")
    snapshot.prune(folder, int(values.get("backup_keep") or 7), reason="scheduled")
    return manifest


class Services:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.litestream = replicate.LitestreamProcess(db, self._settings)
        self.tasks: list[asyncio.Task] = []

    async def _settings(self) -> dict[str, str]:
        return await self.db.read(settings.all_settings)

    def start(self) -> "Services":
        loop = asyncio.get_running_loop()
        schedule = periodic(SCHEDULE_POLL, self._backup_if_due, "scheduled backup", now=True)
        self.tasks = [
            loop.create_task(schedule, name="fazt-backup-schedule"),
            loop.create_task(self.litestream.run(), name="fazt-litestream"),
        ]
        return self

    async def _backup_if_due(self) -> float:
        """Make the scheduled backup when it is due; the seconds until the next look."""
        values = await self._settings()
        poll = SCHEDULE_POLL
        if values.get("backup_every"):
            poll = min(SCHEDULE_POLL, max(1.0, parse_every(values["backup_every"]) / 4))
        made = await run_cpu(run_scheduled_if_due, self.db.path, values)
        if made:
            log.info("scheduled backup: %s", made["path"])
        return poll

    async def stop(self) -> None:
        await self.litestream.stop()
        for task in self.tasks:
            await cancel_and_wait(task)


def start_services(db: Database) -> Services:
    return Services(db).start()
