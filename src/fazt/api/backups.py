"""/api/backups: list, create, download, verify and restore database backups (admin only).

The dashboard's Backups page calls the same functions (`entries`, `make`, `verify`,
`restore`). A restore on a running server copies the backup into the open database
(fazt.backup.live_restore) and then hands over to a fresh worker, so that every cache is
rebuilt from the restored data; it needs the supervisor of `fazt server start`. On a
stopped server, `fazt backup restore` swaps the file instead.
"""

import os
import sqlite3
from pathlib import Path

from fazt.auth.tokens import ApiKey
from fazt.backup import live_restore, snapshot
from fazt.backup.service import backup_folder
from fazt.cpu import run_cpu
from fazt.db import settings
from fazt.state import ServerState
from fazt.web import handover
from fazt.web.http import HTTPError, Request, Response, json_response


def _folder(conn: sqlite3.Connection) -> Path:
    return backup_folder(settings.all_settings(conn))


def _public(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "path"}


async def entries(state: ServerState) -> list[dict]:
    """The backups in the backup folder, newest first (without their paths)."""
    folder = await state.db.read(_folder)
    return [_public(e) for e in await run_cpu(snapshot.list_backups, folder)]


async def make(state: ServerState, reason: str) -> dict:
    """A new verified snapshot of the live database; 500 BACKUP_FAILED if it cannot be made."""
    folder = await state.db.read(_folder)

    def create() -> dict:
        return snapshot.create_snapshot(state.db.path, folder=folder, reason=reason)

    try:
        made = await run_cpu(create)
    except snapshot.BackupError as exc:
        raise HTTPError(500, "BACKUP_FAILED", str(exc)) from None
    return _public({**made, "file": Path(made["path"]).name})


async def find(state: ServerState, file: str) -> Path:
    """The path of the backup named `file`: only names the listing shows, no path tricks."""
    folder = await state.db.read(_folder)
    names = {e["file"] for e in await run_cpu(snapshot.list_backups, folder)}
    if file not in names:
        raise HTTPError(404, "BACKUP_NOT_FOUND", f"no backup named '{file}'")
    return folder / file


async def verify(state: ServerState, file: str) -> dict:
    """Integrity, schema version and checksum of one backup (`fazt backup verify`)."""
    result = await run_cpu(snapshot.verify_snapshot, await find(state, file))
    report = result.as_dict()
    report["file"] = file
    return report


async def restore(state: ServerState, file: str) -> dict:
    """Replace the live data with the backup `file`, then hand over to a fresh worker.

    Refused, with nothing changed, when the backup does not verify (422 BACKUP_INVALID)
    or the server has no supervisor to hand over to (409 NOT_SUPERVISED). The data as it
    was just before is kept as a `before-restore` backup.
    """
    path = await find(state, file)
    try:
        report = await run_cpu(live_restore.check, path)
    except snapshot.BackupError as exc:
        raise HTTPError(422, "BACKUP_INVALID", str(exc)) from None
    if handover.supervisor_pid() is None:
        raise HTTPError(
            409,
            "NOT_SUPERVISED",
            "this server was not started by `fazt server start`: stop it and run "
            "`fazt backup restore` instead",
        )
    before = await make(state, "before-restore")
    try:
        await state.db.write(live_restore.copy_into, path)
    except sqlite3.Error as exc:
        raise HTTPError(
            500, "RESTORE_FAILED", f"the restore failed, nothing changed: {exc}"
        ) from None
    handover.request_reload("restore")
    return {**report, "previous_data": before["file"], "handover": True}


async def list_backups(state: ServerState, req: Request, key: ApiKey) -> Response:
    return json_response(await entries(state))


async def create_backup(state: ServerState, req: Request, key: ApiKey) -> Response:
    return json_response(await make(state, "api"), 201)


async def download_backup(state: ServerState, req: Request, key: ApiKey, file: str) -> Response:
    path = await find(state, file)
    headers = [
        ("content-type", "application/vnd.sqlite3"),
        ("content-disposition", f'attachment; filename="{file}"'),
        ("content-length", str(os.path.getsize(path))),
    ]
    return Response(200, b"", headers, file=str(path))


async def verify_backup(state: ServerState, req: Request, key: ApiKey, file: str) -> Response:
    return json_response(await verify(state, file))


async def restore_backup(state: ServerState, req: Request, key: ApiKey, file: str) -> Response:
    return json_response(await restore(state, file), 202)
