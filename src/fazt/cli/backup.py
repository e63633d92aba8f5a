"""`fazt backup ...`: snapshots of the database, verify, restore, schedule."""

import os
import sqlite3
import sys
from pathlib import Path

import click

from fazt.backup import snapshot
from fazt.cli.common import (
    console,
    db_option,
    fail,
    human_size,
    json_option,
    open_db,
    print_json,
    print_table,
    renamed_option,
    resolve_db_path,
)
from fazt.db import settings

file_arg = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@click.group()
def backup() -> None:
    """Back up, verify and restore the database (see docs/backups.md)."""


def _folder(db_path: Path | None) -> Path:
    """The backup folder: the `backup_dir` setting if the database has one, else default."""
    folder = settings.saved(resolve_db_path(db_path), "backup_dir")
    return Path(folder).expanduser() if folder else snapshot.default_backup_dir()


@backup.command()
@renamed_option(
    "--out",
    "to",
    old=("--to",),
    # A plain string: Path() would drop the trailing "/" that marks a folder.
    type=click.Path(),
    default=None,
    help="Where to write it: a file, or a folder (an existing one, or any path ending in /, "
    "created if missing). Default: $FAZT_HOME/backups/.",
)
@db_option
@json_option
def create(to: str | None, db_path: Path | None, as_json: bool) -> None:
    """Take an online snapshot (a running server keeps serving and writing)."""
    path = resolve_db_path(db_path)
    if not path.exists():
        fail(f"no database at {path}")
    folder = _folder(db_path)
    target = Path(to) if to is not None else None
    if to is not None and to.endswith(("/", os.sep)):
        # `--out new-folder/`: a backup with its default name inside a (new) folder,
        # never a file called `new-folder`.
        folder, target = Path(to).expanduser(), None
    try:
        if sys.stdout.isatty() and not as_json:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("Backing up", total=None)
                manifest = snapshot.create_snapshot(
                    path,
                    target,
                    folder=folder,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        else:
            manifest = snapshot.create_snapshot(path, target, folder=folder)
    except snapshot.BackupError as exc:
        fail(str(exc))
    if as_json:
        print_json(manifest)
        return
    click.echo(f"Backup: {manifest['path']}")
    click.echo(
        f"  {human_size(manifest['size'])}, schema {manifest['schema_version']}, "
        f"sha256 {manifest['sha256'][:16]}..., {manifest['seconds']}s, verified"
    )
    summary = snapshot.summarise_counts(manifest["counts"])
    click.echo("  " + ", ".join(f"{k}: {v}" for k, v in summary.items()))


@backup.command("list")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder to list (default: the scheduled backups' folder, else $FAZT_HOME/backups/).",
)
@db_option
@json_option
def list_(folder: Path | None, db_path: Path | None, as_json: bool) -> None:
    """List backups, newest first."""
    folder = folder or _folder(db_path)
    entries = snapshot.list_backups(folder)
    if as_json:
        print_json(entries)
        return
    rows = [
        {
            "created (UTC)": (e.get("created_at") or "")[:19].replace("T", " "),
            "reason": e.get("reason"),
            "size": human_size(e["size"]),
            "schema": e.get("schema_version"),
            "file": e["file"],
        }
        for e in entries
    ]
    print_table(rows, ["created (UTC)", "reason", "size", "schema", "file"], title=str(folder))


@backup.command()
@file_arg
@json_option
def verify(file: Path, as_json: bool) -> None:
    """Check integrity, schema version and sha256/row counts against the manifest."""
    result = snapshot.verify_snapshot(file)
    if as_json:
        print_json(result.as_dict())
    else:
        click.echo(f"{file}: {'OK' if result.ok else 'FAILED'}")
        click.echo(f"  integrity:      {result.integrity}")
        click.echo(f"  schema version: {result.schema_version}")
        sha = {True: "matches manifest", False: "DOES NOT match manifest", None: "no manifest"}
        click.echo(f"  sha256:         {sha[result.sha256_matches]}")
        if result.objects:
            objects = result.objects
            missing = len(objects.get("missing", [])) if "missing" in objects else "unchecked"
            click.echo(
                f"  object store:   {objects['referenced']} blobs in "
                f"{objects.get('store', '?')}, missing: {missing}"
            )
        for problem in result.problems:
            click.echo(f"  problem: {problem}")
    if not result.ok:
        sys.exit(1)


@backup.command()
@file_arg
@click.option("--yes", is_flag=True, help="Do not ask; restore even if a server answers.")
@db_option
@json_option
def restore(file: Path, yes: bool, db_path: Path | None, as_json: bool) -> None:
    """Replace the database with a verified backup (the current one is kept aside).

    A server running on the database must be restarted afterwards: it keeps its open
    handle on the old file until then (zero-downtime handover comes with upgrades).
    """
    from fazt.server import control

    path = resolve_db_path(db_path)
    check = snapshot.verify_snapshot(file)
    if not check.ok:
        fail(f"refusing to restore {file} (nothing was changed): " + "; ".join(check.problems))
    running, port = False, None
    if path.exists():  # read-only: do not migrate or touch the file we may replace
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                port = settings.get_int(conn, "port")
            finally:
                conn.close()
            running = "version" in control.health(port)
        except (sqlite3.Error, ValueError):
            running = False
    if running and not yes:
        fail(
            f"a fazt server is running on {path} (port {port}): stop it first, or pass --yes "
            "and restart it right after the restore (until then it serves the old data)"
        )
    if not yes and sys.stdin.isatty():
        click.confirm(f"Replace {path} with {file}?", abort=True)
    try:
        report = snapshot.restore_snapshot(file, path)
    except snapshot.BackupError as exc:
        fail(f"{exc} (nothing was changed)")
    report["server_running"] = running
    if as_json:
        print_json(report)
        return
    console.print(f"Restored {file} into {path}", highlight=False)
    if report["created_at"]:
        click.echo(f"  backup taken:      {report['created_at']}")
    click.echo(f"  schema version:    {report['schema_version']}")
    for label, count in report["summary"].items():
        click.echo(f"  {label + ':':18} {count}")
    if report["previous_database"]:
        click.echo(f"  previous database kept at {report['previous_database']}")
    if running:
        click.echo(
            "A server is running on this database: restart it now "
            "(stop it and run `fazt server start`) to serve the restored data."
        )


@backup.command()
@click.option("--every", default=None, help="Interval: e.g. 6h, 24h, 7d.")
@click.option("--keep", type=click.IntRange(1, 1000), default=None, help="Scheduled backups kept.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for scheduled backups (default: $FAZT_HOME/backups/).",
)
@click.option("--off", is_flag=True, help="Stop scheduled backups.")
@db_option
@json_option
def schedule(every, keep, folder, off, db_path, as_json) -> None:
    """Set scheduled backups, taken by the running server (shown without options)."""
    from fazt.backup.service import parse_every

    changes: dict[str, str] = {}
    if off:
        changes["backup_every"] = ""
    elif every is not None:
        try:
            parse_every(every)
        except ValueError as exc:
            fail(str(exc))
        changes["backup_every"] = every.strip()
    if keep is not None:
        changes["backup_keep"] = str(keep)
    if folder is not None:
        changes["backup_dir"] = str(folder.expanduser().resolve())
    with open_db(db_path, must_exist=True) as db:
        if changes:
            db.write_sync(lambda c: [settings.put(c, k, v) for k, v in changes.items()])
        values = db.read_sync(settings.all_settings)
    info = {
        "every": values["backup_every"] or None,
        "keep": int(values["backup_keep"]),
        "dir": values["backup_dir"] or str(snapshot.default_backup_dir()),
    }
    if as_json:
        print_json(info)
    elif info["every"]:
        click.echo(
            f"Scheduled backups every {info['every']}, keeping {info['keep']}, in {info['dir']} "
            "(taken by the running server)"
        )
    else:
        click.echo("Scheduled backups are off")
