"""`fazt storage ...`: where blob bytes live (SQLite, or an S3 bucket: docs/object-storage.md)."""

import time
from pathlib import Path

import click

from fazt.backup.replicate import ReplicationError, read_credentials_file
from fazt.cli.common import db_option, fail, json_option, open_db, print_json
from fazt.db import settings
from fazt.hosting import blob_remote
from fazt.objectstore.location import Location
from fazt.offload import ledger, move

PROGRESS_SECONDS = 1.0


@click.group()
def storage() -> None:
    """Where file and app blobs are kept: in the database, or in an S3 bucket."""


@storage.command()
@click.option(
    "--to", "to", required=True, help="s3://bucket/prefix (move blobs there) or local (bring back)."
)
@click.option("--endpoint", default=None, help="S3-compatible endpoint URL (SeaweedFS, MinIO...).")
@click.option("--region", default=None, help="S3 region (default us-east-1).")
@click.option(
    "--access-key-id", default=None, envvar="AWS_ACCESS_KEY_ID", help="S3 access key (or env)."
)
@click.option(
    "--secret-access-key",
    default=None,
    envvar="AWS_SECRET_ACCESS_KEY",
    help="S3 secret (or env); kept in a 0600 file, never in the database.",
)
@click.option(
    "--credentials-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="An AWS shared credentials file ([default] profile).",
)
@db_option
@json_option
def offload(
    to, endpoint, region, access_key_id, secret_access_key, credentials_file, db_path, as_json
) -> None:
    """Move blob bytes to the bucket (--to s3://...) or back into the database (--to local).

    Safe to stop and run again: bytes leave one side only once the other holds them,
    checked by their sha256."""
    if credentials_file:
        try:
            access_key_id, secret_access_key = read_credentials_file(credentials_file)
        except ReplicationError as exc:
            fail(str(exc))
    with open_db(db_path, must_exist=True) as db:
        values = db.read_sync(settings.all_settings)
        try:
            if to == "local":
                report = _to_local(db, values, as_json)
            else:
                report = _to_bucket(
                    db, values, to, endpoint, region, access_key_id, secret_access_key, as_json
                )
        except (
            move.OffloadError,
            blob_remote.BlobStoreUnavailable,
            blob_remote.BlobStoreCorrupt,
        ) as exc:
            fail(exc.message)
        counts = db.read_sync(ledger.counts)
    info = {**report.as_dict(), **counts}
    if as_json:
        print_json(info)
        return
    where = "the bucket" if to != "local" else "the database"
    click.echo(
        f"Moved {report.moved} of {report.total} blobs ({_mb(report.bytes)}) to {where} "
        f"in {info['seconds']:.1f}s; now {counts['local']['blobs']} in the database, "
        f"{counts['bucket']['blobs']} in the bucket."
    )
    if report.busy or report.gone:
        click.echo(f"  {report.busy} being deleted by the GC, {report.gone} deleted meanwhile")


def _to_bucket(db, values, url, endpoint, region, access, secret, as_json) -> move.Report:
    try:
        where = Location.parse(url)
    except ValueError as exc:
        fail(f"{exc} (or --to local)")
    current = values.get("blob_store_url", "")
    if current and current != str(where) and db.read_sync(ledger.counts)["bucket"]["blobs"]:
        fail(f"blobs are in {current}: bring them back first (fazt storage offload --to local)")
    changes = {
        "blob_store_url": str(where),
        "blob_store_endpoint": endpoint or values.get("blob_store_endpoint", ""),
        "blob_store_region": region or values.get("blob_store_region", ""),
    }
    keys = (access, secret) if access or secret else blob_remote.credentials()
    try:
        probe = blob_remote.open_store(*changes.values(), *keys)
    except ValueError as exc:
        fail(str(exc))
    try:
        move.probe(probe)  # nothing is kept unless the bucket works with these keys
    finally:
        probe.client.close()
    if access or secret:
        blob_remote.save_credentials(access, secret)
    # Settings first: a server reading a moved blob must find the bucket.
    db.write_sync(lambda c: [settings.put(c, k, v) for k, v in changes.items()])
    store = blob_remote.store_for(changes)
    return move.to_bucket(db, store, None if as_json else _printer("to the bucket"))


def _to_local(db, values, as_json) -> move.Report:
    store = blob_remote.store_for(values)
    if store is None:
        if db.read_sync(ledger.counts)["bucket"]["blobs"]:
            fail("blobs are marked as offloaded but no blob store is configured")
        return move.Report("local")
    # New blobs stay here from now on; then bring every blob back (again, if the server
    # moved one meanwhile), and only then forget the bucket.
    db.write_sync(settings.put, "blob_store_new", "0")
    total = move.Report("local")
    for _ in range(5):
        report = move.to_local(db, store, None if as_json else _printer("back"))
        total.total += report.total
        total.moved += report.moved
        total.bytes += report.bytes
        if not db.read_sync(ledger.bucket_hashes):
            break
    else:
        fail("blobs keep moving to the bucket: is a server still offloading? Try again.")
    db.write_sync(lambda c: [settings.put(c, k, "") for k in blob_remote.SETTINGS])
    db.write_sync(settings.put, "blob_store_new", "1")
    blob_remote.save_credentials(None, None)  # nothing needs them now
    if not as_json:
        click.echo(
            f"The objects stay in {store.where}: delete them once no backup needs them.",
            err=True,
        )
    return total


def _printer(what: str):
    last = [0.0]

    def show(report: move.Report) -> None:
        now = time.monotonic()
        done = report.moved + report.busy + report.gone
        if now - last[0] >= PROGRESS_SECONDS or done == report.total:
            last[0] = now
            click.echo(
                f"  {done}/{report.total} blobs moved {what} ({_mb(report.bytes)})", err=True
            )

    return show


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


@storage.command()
@db_option
@json_option
def status(db_path, as_json) -> None:
    """How many blobs (and bytes) are in the database and in the bucket."""
    with open_db(db_path, must_exist=True) as db:
        values = db.read_sync(settings.all_settings)
        counts = db.read_sync(ledger.counts)
    info = {"store": values.get("blob_store_url") or None, **counts}
    if as_json:
        print_json(info)
        return
    click.echo(f"Blob store: {info['store'] or 'none (blobs in the database)'}")
    for side in ("local", "bucket"):
        c = counts[side]
        click.echo(f"  {side:7} {c['blobs']} blobs, {_mb(c['bytes'])}")
