"""/api/backups: list, create and download database backups (admin only).

Restoring through the API waits for the zero-downtime handover (upgrade issue): a
restore replaces the file a running server has open, so today it is a CLI operation on
a stopped server (`fazt backup restore`).
"""

import os
import sqlite3
from pathlib import Path

from fazt.auth.tokens import ApiKey
from fazt.backup import snapshot
from fazt.backup.service import backup_folder
from fazt.cpu import run_cpu
from fazt.db import settings
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response


def _folder(conn: sqlite3.Connection) -> Path:
    return backup_folder(settings.all_settings(conn))


def _public(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "path"}


async def list_backups(state: ServerState, req: Request, key: ApiKey) -> Response:
    folder = await state.db.read(_folder)
    entries = await run_cpu(snapshot.list_backups, folder)
    return json_response([_public(e) for e in entries])


async def create_backup(state: ServerState, req: Request, key: ApiKey) -> Response:
    folder = await state.db.read(_folder)

    def make() -> dict:
        return snapshot.create_snapshot(state.db.path, folder=folder, reason="api")

    try:
        made = await run_cpu(make)
    except snapshot.BackupError as exc:
        raise HTTPError(500, "BACKUP_FAILED", str(exc)) from None
    return json_response(_public({**made, "file": Path(made["path"]).name}), 201)


async def download_backup(state: ServerState, req: Request, key: ApiKey, file: str) -> Response:
    folder = await state.db.read(_folder)
    names = {e["file"] for e in await run_cpu(snapshot.list_backups, folder)}
    if file not in names:  # only names the listing shows: no path tricks
        raise HTTPError(404, "BACKUP_NOT_FOUND", f"no backup named '{file}'")
    path = folder / file
    headers = [
        ("content-type", "application/vnd.sqlite3"),
        ("content-disposition", f'attachment; filename="{file}"'),
        ("content-length", str(os.path.getsize(path))),
    ]
    return Response(200, b"", headers, file=str(path))
