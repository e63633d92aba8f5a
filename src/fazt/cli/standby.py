"""`fazt standby ...`: a warm standby following a Litestream replica, and its promotion."""

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import click

from fazt.backup import replicate as rep
from fazt.backup import standby as sb
from fazt.cli.common import db_option, fail, json_option, open_db, print_json, resolve_db_path
from fazt.server.forward import check_primary
from fazt.server.guard import running_pid

PROMOTE_DEADLINE = 30.0  # seconds for the running standby to act on a promotion


@click.group(invoke_without_command=True)
@click.option("--from", "url", default=None, help="Replica URL: file:///path or s3://bucket/path.")
@click.option("--endpoint", default=None, help="S3-compatible endpoint URL (SeaweedFS, MinIO...).")
@click.option("--region", default=None, help="S3 region (default us-east-1 with --endpoint).")
@click.option(
    "--primary",
    default=None,
    help="The primary's base URL (https://host[:port]): serve as a follower that forwards "
    "writes and app requests there instead of refusing them.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port to serve on.")
@db_option
@click.pass_context
def standby(ctx: click.Context, url, endpoint, region, primary, host, port, db_path) -> None:
    """Follow a replica read-only on a second server; `promote` makes it the primary.

    `fazt standby --from URL [--db PATH] [--port P]` restores the replica into a new
    database (or resumes a standby's) and serves it read-only while following the replica.
    With `--primary URL` it is a follower (a read replica): static files and read-only API
    calls are served here, writes and app requests go to the primary.
    """
    if ctx.invoked_subcommand is not None:
        return
    if url is None:
        fail("pass --from URL (the replica to follow), or a subcommand: status, promote")
    path = resolve_db_path(db_path)
    try:
        primary = check_primary(primary) if primary else None
        sb.begin(path, url, endpoint, region, primary)
    except (sb.StandbyError, rep.ReplicationError, ValueError) as exc:
        fail(str(exc))
    if primary:
        click.echo(f"Follower of {rep.redact(url)}: serving {path}, writes go to {primary}.")
        if _cleartext(primary):
            click.echo(
                f"warning: {primary} is plain HTTP: API keys and cookies forwarded there "
                "travel unencrypted; use https:// unless it is a private network",
                err=True,
            )
    else:
        click.echo(f"Standby of {rep.redact(url)}: serving {path} read-only.")
    args = [sys.executable, "-m", "fazt", "server", "start", "--host", host, "--db", str(path)]
    if port is not None:
        args += ["--port", str(port)]
    sys.stdout.flush()
    os.execv(sys.executable, args)  # the ordinary server; its worker sees the marker


@standby.command()
@db_option
@json_option
def status(db_path, as_json) -> None:
    """Position, lag and last error of the standby's follower."""
    info = sb.describe(resolve_db_path(db_path))
    if as_json:
        print_json(info)
        return
    if not info["standby"]:
        promoted = info["promoted_at"]
        click.echo("Not a standby" + (f" (promoted at {_when(promoted)})" if promoted else ""))
        return
    lag = "unknown" if info["lag_seconds"] is None else f"{info['lag_seconds']}s"
    click.echo(f"Standby of {info['from']}")
    if info["primary"]:
        click.echo(f"  follower:   writes and app requests go to {info['primary']}")
    click.echo(f"  following:  {'yes' if info['following'] else 'no'}")
    click.echo(
        f"  position:   {info['position'] or '-'} (replica: {info['replica_position'] or '?'})"
    )
    click.echo(f"  lag:        {lag}")
    click.echo(f"  applied at: {_when(info['applied_at'])}")
    click.echo(f"  replica last moved: {_when(info['position_changed_at'])}")
    if info["last_error"]:
        click.echo(f"  last error: {info['last_error']}")


def _cleartext(url: str) -> bool:
    """Plain HTTP to somewhere that is not this machine."""
    host = urlsplit(url).hostname or ""
    return url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1")


def _when(at: float | None) -> str:
    if not at:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)) + f" ({time.time() - at:.1f}s ago)"


@standby.command()
@click.option("--replicate-to", default=None, help="New replica URL for the new primary.")
@click.option(
    "--quiet-seconds",
    type=float,
    default=sb.QUIET_SECONDS,
    show_default=True,
    help="Refuse while the replica advanced more recently than this (the old primary writes).",
)
@click.option("--force", is_flag=True, help="Skip the checks (old primary surely gone).")
@db_option
@json_option
def promote(replicate_to, quiet_seconds, force, db_path, as_json) -> None:
    """Stop following and serve read-write as the primary, replicating to a new path."""
    path = resolve_db_path(db_path)
    try:
        sb.check_promote(path, replicate_to, quiet_seconds, force)
    except (sb.StandbyError, rep.ReplicationError) as exc:
        fail(str(exc))
    if running_pid(path) is None:
        _promote_offline(path, db_path, replicate_to)
    else:
        sb.request_promotion(path, replicate_to)
        deadline = time.monotonic() + PROMOTE_DEADLINE
        while sb.marker(path) is not None:
            if time.monotonic() > deadline:
                fail(f"the standby did not act on the promotion within {PROMOTE_DEADLINE:.0f}s")
            time.sleep(0.05)
    info = {"promoted": True, "database": str(path), "replicate_to": replicate_to}
    if as_json:
        print_json(info)
        return
    click.echo(f"Promoted: {path} is now the primary (read-write).")
    if replicate_to:
        click.echo(f"  replicating to {rep.redact(replicate_to)}")
    else:
        click.echo("  warning: not replicating; run `fazt replicate enable --replica URL`")


def _promote_offline(path: Path, db_path, replicate_to: str | None) -> None:
    """No server runs on the standby: promote the file itself."""
    info = sb.marker(path) or {}
    with open_db(db_path, must_exist=True) as db:
        db.write_sync(sb.point_replication, replicate_to, sb.s3_values(info))
    sb.marker_path(path).unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm", "-txid"):  # the follower's copy, if one was left
        Path(f"{sb.follow_path(path)}{suffix}").unlink(missing_ok=True)
