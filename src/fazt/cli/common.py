"""Shared CLI plumbing: opening the database, reaching a server, printing results."""

import json
import logging
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

log = logging.getLogger("fazt.cli")

# Wide enough that nothing is ever cut: any longer line would not fit a log viewer either.
PIPE_WIDTH = 10_000


def _console(stderr: bool = False) -> Console:
    """A terminal gets rich's usual layout; a pipe or CI log gets lines that never wrap
    (rich would assume 80 columns and split URLs and table rows across lines)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True)


console = _console()
errors = _console(stderr=True)

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
    source = _token_source(token)
    if url is None:
        peer = peers.find()
        if peer is None:
            fail(
                "no server configured: start one with `fazt server start`, or pass --to URL "
                "--token T"
            )
        url, token = peer.url, token or peer.token
        source = source or f"saved peer {peer.name!r}"
    elif token is None:
        # Never send one server's token to another: only a saved peer with this URL counts.
        peer = peers.find_by_url(url)
        if peer is None:
            fail(f"no token for {url}: pass --token T (or set FAZT_TOKEN)")
        token = peer.token
        source = f"saved peer {peer.name!r}"
    log.debug("server %s, token from %s", url, source)
    client = FaztClient(url, token)
    try:
        yield client
    except ApiError as exc:
        fail(str(exc) + next_step(exc, client.url, source or "--token"))
    finally:
        client.close()


def _token_source(token: str | None) -> str | None:
    """Where a token given on the command line came from, for error messages."""
    if token is None:
        return None
    return "$FAZT_TOKEN" if os.environ.get("FAZT_TOKEN") == token else "--token"


def next_step(exc: ApiError, url: str, source: str) -> str:
    """What to do about a server that does not answer or refuses the token ("" otherwise)."""
    if exc.unreachable:
        return (
            f"\n  next: nothing answers at {url}. If it is this machine's server, start it with "
            "`fazt server start` (and check `fazt server status`); if it is another server, "
            "check its URL with `fazt remote list`."
        )
    if exc.status == 401:
        return (
            f"\n  next: the server refused the token from {source}. Make a key on that server "
            "with `fazt key create NAME --scopes deploy`, then save it with "
            f"`fazt remote add NAME --url {url} --token KEY --replace` (or pass --token KEY)."
        )
    return ""


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
