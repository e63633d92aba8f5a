"""`fazt migrate-v09 OLD.db`: a fazt v0.9 database imported into a new one, verified."""

import json
from pathlib import Path

import click

from fazt.cli.common import db_option, errors, fail, json_option, print_table, resolve_db_path
from fazt.compat.v09_import import run
from fazt.compat.v09_report import Report
from fazt.errors import FaztError
from fazt.remote import peers


@click.command("migrate-v09")
@click.argument("old", metavar="OLD.db", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@json_option
@click.option(
    "--dry-run", is_flag=True, help="Import and verify into a temporary file, keep nothing."
)
def migrate_v09(old: Path, db_path: Path | None, as_json: bool, dry_run: bool) -> None:
    """Import fazt v0.9's OLD.db (read only, never changed) into a new database: sites
    and their files, kv, storage, env vars, redirects, webhooks and analytics, verified
    against the old file before the new one is put in place. API keys and the admin login
    keep working: their bcrypt hashes are checked once, then
    replaced by this fazt's own."""
    target = resolve_db_path(db_path)
    try:
        report = run(old, target, dry_run=dry_run, progress=_progress)
    except FaztError as exc:
        _refused(exc.code, exc.message, as_json)
    except OSError as exc:  # the target's folder is not writable, the disk is full, ...
        _refused("WRITE_FAILED", f"cannot write {target}: {exc}", as_json)
    # Like a first start: this machine's CLI is set up to use the new server.
    if report.local_token and not report.dry_run:
        peers.save(peers.LOCAL_PEER, report.local_url, report.local_token)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _summary(report)


def _refused(code: str, message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"error": {"code": code, "message": message}}))
    fail(message)


def _progress(line: str) -> None:
    errors.print(line, highlight=False, markup=False)


def _summary(report: Report) -> None:
    rows = [
        {**t.to_dict(), "reasons": "; ".join(f"{n}: {r}" for r, n in t.reasons.items())}
        for t in report.tallies.values()
    ]
    print_table(rows, ["kind", "found", "imported", "skipped", "reasons"])
    for tally in report.tallies.values():
        for item, reason in tally.items:
            if not reason.startswith("not imported:"):
                click.echo(f"skipped {tally.kind} {item}: {reason}")
    for note in report.notes:
        click.echo(f"note: {note}")
    if report.dry_run:
        click.echo(f"dry run: verified, nothing written ({report.target} not created)")
    elif report.local_token:
        click.echo(
            f"verified; imported into {report.target}. Start it with "
            f"`fazt server start --db {report.target}` and sign in with your v0.9 login; "
            "v0.9 API keys keep working."
        )
    else:
        click.echo(
            f"verified; imported into {report.target}. Start it with "
            f"`fazt server start --db {report.target}` (the first start creates the admin "
            "login and prints its password)."
        )
