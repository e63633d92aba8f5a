"""Shared CLI plumbing: opening the database, reaching a server, printing results."""

import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
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


def log_options(fn: Callable) -> Callable:
    """--follow/-f and --lines/-n, as every command that shows a log takes them."""
    fn = click.option(
        "--lines",
        "-n",
        type=click.IntRange(1),
        default=100,
        show_default=True,
        help="Newest log lines shown.",
    )(fn)
    return click.option(
        "--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C to stop)."
    )(fn)


class RenamedOption(click.Option):
    """An option with old spellings kept, hidden, for a release: `old` still parses, says
    the new name on stderr, and gives its value to this option (the new one wins if both).

    One meaning per option name across commands: `--url` a server, `--out` a file the
    command writes, `--replica` a replica URL, `--db` the database, `--release-url` a
    release index.
    """

    def __init__(self, *args: Any, old: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.old = old

    @property
    def _old_dest(self) -> str:
        return f"{self.name}\0old"

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        if self.old:  # a dest of its own: handle_parse_result can tell which was typed
            parser.add_option(obj=self, opts=self.old, dest=self._old_dest, nargs=self.nargs)

    def handle_parse_result(self, ctx: click.Context, opts: Any, args: list[str]) -> Any:
        opts = dict(opts)
        if self._old_dest in opts:
            value = opts.pop(self._old_dest)
            opts.setdefault(self.name, value)
            if not ctx.resilient_parsing:
                new = max(self.opts, key=len)
                click.echo(
                    f"note: {'/'.join(self.old)} is now {new} (the old name goes away)", err=True
                )
        return super().handle_parse_result(ctx, opts, args)


def renamed_option(*decls: str, old: tuple[str, ...], **kwargs: Any):
    """click.option for a renamed option (see RenamedOption)."""
    return click.option(*decls, cls=RenamedOption, old=old, **kwargs)


url_option = renamed_option(
    "--url", "url", old=("--to",), default=None, help="Server URL (default: the default peer)."
)
token_option = click.option(
    "--token",
    default=None,
    envvar="FAZT_TOKEN",
    help="API token (default: the peer's saved token).",
)


def remote_options(command):
    """--url, --token and --json: what every command that talks to a server takes."""
    return url_option(token_option(json_option(command)))


def renamed_notice(old: str, new: str) -> None:
    """The one line a hidden old command name prints (stderr) before doing its work."""
    click.echo(f"note: `{old}` is now `{new}` (the old name goes away)", err=True)


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
    """A client for --url/--token, else the default saved peer."""
    source = _token_source(token)
    if url is None:
        peer = peers.find()
        if peer is None:
            fail(
                "no server configured: start one with `fazt server start`, or pass --url URL "
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
        fail_api(exc, _saved_source(url, token, source or "--token"))
    finally:
        client.close()


def _saved_source(url: str, token: str | None, source: str) -> str:
    """`remote deploy NAME` passes a saved peer's token as if typed: name the peer."""
    if source == "--token":
        peer = peers.find_by_url(url)
        if peer is not None and peer.token == token:
            return f"saved peer {peer.name!r}"
    return source


def _token_source(token: str | None) -> str | None:
    """Where a token given on the command line came from, for error messages."""
    if token is None:
        return None
    return "$FAZT_TOKEN" if os.environ.get("FAZT_TOKEN") == token else "--token"


def fail_api(exc: ApiError, source: str, prefix: str = "") -> None:
    """End the command with an API error and its next step (server down, token refused)."""
    fail(prefix + str(exc) + exc.next_step(source))


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


def duration(seconds: int | None) -> str:
    """'2h 5m', '3m 2s', '42s': an uptime or an age, to the two largest units."""
    if seconds is None:
        return "?"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"
