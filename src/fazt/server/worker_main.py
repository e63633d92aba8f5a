"""`python -m fazt server worker ...`: the worker's lean entry point, without the CLI.

The worker lives as long as the server, so what it imports and never uses is idle memory
(issue 22): the click CLI, rich, httpx (the API client) and what they pull in cost ~9 MB.
fazt/__main__.py sends `server worker` here before the CLI is imported; the command line
stays the one every supervisor (of this or an older release) starts a worker with.
"""

import os
import sqlite3
import sys
from pathlib import Path

from fazt import __version__
from fazt.paths import default_db_path
from fazt.web.readiness import report_progress

ARGV_PREFIX = ["server", "worker"]


class Args:
    """The worker's command line."""

    host: str
    port: int
    ready_fd: int | None = None  # the supervisor's pipe
    listen_fd: int | None = None  # the socket to serve
    extra_listen_fd: list[int]  # HTTPS mode's ports' sockets, also held by the supervisor
    db_path: Path | None = None


NAMED = {"--host": str, "--port": int, "--ready-fd": int, "--listen-fd": int, "--db": Path}


def parse(argv: list[str]) -> Args:
    """The `--name value` pairs supervisors write; anything else (--help, a mistake) goes to
    argparse, which the worker otherwise never imports (~0.5 MB for its whole life)."""
    args = Args()
    args.extra_listen_fd = []
    pairs = iter(argv)
    try:
        for name in pairs:
            value = next(pairs)
            if name == "--extra-listen-fd":
                args.extra_listen_fd.append(int(value))
            elif name in NAMED:
                attr = "db_path" if name == "--db" else name[2:].replace("-", "_")
                setattr(args, attr, NAMED[name](value))
            else:
                return parse_fully(argv)
    except (StopIteration, ValueError):
        return parse_fully(argv)
    if not hasattr(args, "host") or not hasattr(args, "port"):
        return parse_fully(argv)
    return args


def parse_fully(argv: list[str]):
    """argparse's answer: its help, its errors (SystemExit), or the same arguments."""
    import argparse

    parser = argparse.ArgumentParser(prog="fazt server worker")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ready-fd", type=int, default=None)  # the supervisor's pipe
    parser.add_argument("--listen-fd", type=int, default=None)  # the socket to serve
    # HTTPS mode's ports' sockets, also held by the supervisor (repeatable)
    parser.add_argument("--extra-listen-fd", type=int, action="append", default=[])
    parser.add_argument("--db", dest="db_path", type=Path, default=None)
    return parser.parse_args(argv)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def main(argv: list[str]) -> int:
    """Serve until a stop signal (started by `fazt server start`, which supervises it)."""
    args = parse(argv)
    # Each step restarts the supervisor's clock for a silent worker (fazt.server.supervisor).
    report_progress(args.ready_fd, "starting")
    from fazt.server.run import serve, tune_malloc

    tune_malloc()
    sys.stdout.reconfigure(line_buffering=True)
    path = Path(args.db_path or os.environ.get("FAZT_DB") or default_db_path()).expanduser()
    if not path.exists():
        fail(f"no database at {path}: run `fazt server init` or `fazt server start` first")
    report_progress(args.ready_fd, "opening")
    db = open_database(path)
    report_progress(args.ready_fd, "opened")

    def ready(state) -> None:
        announce(state, path, args.host, args.port)

    try:
        serve(
            db,
            args.host,
            args.port,
            ready,
            args.ready_fd,
            args.listen_fd,
            tuple(args.extra_listen_fd),
        )
    except (OSError, RuntimeError) as exc:
        fail(f"cannot serve on {args.host}:{args.port}: {exc}")
    return 0


def open_database(path: Path):
    """The database, snapshotted first if this release migrates it (as the CLI's open)."""
    from fazt.backup.snapshot import BackupError, backup_if_migrations_pending
    from fazt.db import Database, SchemaTooNewError

    try:
        backup_if_migrations_pending(path)
        return Database.open(path)
    except SchemaTooNewError as exc:
        fail(str(exc))
    except BackupError as exc:
        fail(f"not migrating {path} without a backup first: {exc}")
    except (OSError, sqlite3.DatabaseError) as exc:
        fail(f"cannot open database {path}: {exc}")


def announce(state, path: Path, host: str, port: int) -> None:
    """The lines a terminal (and `fazt server start --background`) waits for."""
    from fazt.web.handover import supervisor_pid

    # The supervisor's pid is the one to signal: killing a worker only makes the
    # supervisor start another.
    owner = supervisor_pid() or os.getpid()
    print(f"fazt {__version__} serving (pid {owner}, worker {os.getpid()})")
    print(f"  Dashboard: {state.dashboard_url()}")
    print(f"  Sites:     {state.site_url('<name>')}")
    print(f"  Database:  {path}")
    print(f"  Listening: {host}:{port} (Ctrl-C to stop)")
    if state.tls is not None:
        cfg = state.tls.cfg
        print(f"  HTTPS:     {cfg.host}:{cfg.https_port}, http->https on {cfg.http_port}")
