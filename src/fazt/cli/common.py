"""Shared CLI plumbing: opening the database, reaching a server, printing results."""

import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from fazt.paths import default_db_path
from fazt.remote import peers
from fazt.remote.client import ApiError, FaztClient

if TYPE_CHECKING:
    from fazt.db import Database

console = Console()
errors = Console(stderr=True)

db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Database file (default: $FAZT_HOME/data.db, FAZT_HOME defaults to ~/.fazt).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
to_option = click.option("--to", "url", default=None, help="Server URL (default: local peer).")
token_option = click.option(
    "--token",
    default=None,
    envvar="FAZT_TOKEN",
    help="API token (default: the peer's saved token).",
)


def remote_options(command):
    """--to, --token and --json: what every command that talks to a server takes."""
    return to_option(token_option(json_option(command)))


def fail(message: str, code: int = 1) -> None:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    sys.exit(code)


def resolve_db_path(db_path: Path | None) -> Path:
    return Path(db_path or os.environ.get("FAZT_DB") or default_db_path()).expanduser()


@contextmanager
def open_db(db_path: Path | None, *, must_exist: bool = False) -> Iterator["Database"]:
    # Imported here: client-only commands (deploy, app ...) do not need them.
    from fazt.backup.snapshot import BackupError, backup_if_migrations_pending
    from fazt.db import Database, SchemaTooNewError

    path = resolve_db_path(db_path)
    if must_exist and not path.exists():
        fail(f"no database at {path}: run `fazt server init` or `fazt server start` first")
    try:
        # An existing database with pending migrations is snapshotted first; no backup,
        # no migration (the error says why).
        backup_if_migrations_pending(path)
        db = Database.open(path)
    except SchemaTooNewError as exc:
        fail(str(exc))
    except BackupError as exc:
        fail(f"not migrating {path} without a backup first: {exc}")
    except (OSError, sqlite3.DatabaseError) as exc:
        fail(f"cannot open database {path}: {exc}")
    try:
        yield db
    finally:
        db.close()


@contextmanager
def api_client(url: str | None, token: str | None) -> Iterator[FaztClient]:
    """A client for --to/--token, else the default saved peer."""
    if url is None:
        peer = peers.find()
        if peer is None:
            fail(
                "no server configured: start one with `fazt server start`, or pass --to URL "
                "--token T"
            )
        url, token = peer.url, token or peer.token
    elif token is None:
        # Never send one server's token to another: only a saved peer with this URL counts.
        peer = peers.find_by_url(url)
        if peer is None:
            fail(f"no token for {url}: pass --token T (or set FAZT_TOKEN)")
        token = peer.token
    client = FaztClient(url, token)
    try:
        yield client
    except ApiError as exc:
        fail(str(exc))
    finally:
        client.close()


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def print_table(rows: list[dict], columns: list[str], title: str | None = None) -> None:
    if not rows:
        console.print("(none)")
        return
    table = Table(title=title, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in columns])
    console.print(table)


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
