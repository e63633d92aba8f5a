"""`fazt key ...`: create, list and revoke API keys through a server's API (admin scope);
`key create --db` writes one straight into a database file (no server, no key needed)."""

from pathlib import Path

import click

from fazt.auth import tokens
from fazt.cli.common import api_client, fail, open_db, print_json, print_table, remote_options


@click.group()
def key() -> None:
    """Manage API keys (tokens are shown once; the server keeps only a hash)."""


scopes_option = click.option(
    "--scopes",
    default="deploy",
    show_default=True,
    help=f"Comma-separated: {', '.join(tokens.SCOPES)}.",
)
sites_option = click.option(
    "--sites",
    default=None,
    help="Comma-separated site names the key is limited to (default: every site).",
)


@key.command()
@click.argument("name")
@scopes_option
@sites_option
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the key straight into this database file, on the server's machine: no "
    "running server or admin key needed (default: ask the server's API).",
)
@remote_options
def create(name, scopes, sites, db_path, url, token, as_json) -> None:
    """Create a key called NAME and print its token (only this once)."""
    scope_set, site_set = parse_key_options(scopes, sites)
    if db_path is not None:
        if url is not None:
            fail("--db writes into a database file, --url asks a server: give one of them")
        result = create_in_database(db_path, name, scope_set, site_set)
    else:
        body = {"name": name, "scopes": sorted(scope_set)}
        if site_set is not None:
            body["sites"] = sorted(site_set)
        with api_client(url, token) as client:
            result = client.post("/api/keys", json=body)
    if as_json:
        print_json(result)
        return
    click.echo(
        f"Created key {result['id']} '{result['name']}' ({', '.join(result['scopes'])}; "
        f"{_sites_text(result.get('sites'))}). Save the token now: it is not shown again.",
        err=True,
    )
    click.echo(result["token"])


def parse_key_options(
    scopes: str, sites: str | None
) -> tuple[frozenset[str], frozenset[str] | None]:
    """--scopes and --sites checked, or the command ends with why."""
    try:
        return tokens.parse_scopes(scopes), None if sites is None else tokens.parse_sites(sites)
    except ValueError as exc:
        fail(str(exc))


def create_in_database(
    db_path: Path | None,
    name: str,
    scopes: frozenset[str],
    sites: frozenset[str] | None,
) -> dict:
    """Store a new key in the database file itself; answer as POST /api/keys does."""
    with open_db(db_path, must_exist=True) as db:
        try:
            key_id, token = db.write_sync(tokens.create_key, name, scopes, sites)
        except ValueError as exc:
            fail(str(exc))
    return {
        "id": key_id,
        "name": name,
        "scopes": sorted(scopes),
        "sites": None if sites is None else sorted(sites),
        "token": token,
    }


def _sites_text(sites: list[str] | None) -> str:
    return "sites: " + ", ".join(sites) if sites else "every site"


@key.command("list")
@remote_options
def list_keys(url, token, as_json) -> None:
    """List keys with their scopes, sites and when they were last used."""
    with api_client(url, token) as client:
        rows = client.get("/api/keys")
    if as_json:
        print_json(rows)
        return
    for row in rows:
        row["scopes"] = ",".join(row["scopes"])
        row["sites"] = ",".join(row["sites"]) if row.get("sites") else "all"
        row["last_used_at"] = row["last_used_at"] or "never"
        row["status"] = f"revoked {row['revoked_at']}" if row["revoked"] else "active"
    print_table(
        rows, ["id", "name", "prefix", "scopes", "sites", "created_at", "last_used_at", "status"]
    )


@key.command()
@click.argument("key_id", type=int)
@remote_options
def revoke(key_id, url, token, as_json) -> None:
    """Revoke key KEY_ID (see `fazt key list`); it stops working at once."""
    with api_client(url, token) as client:
        result = client.request("DELETE", f"/api/keys/{key_id}")
    if as_json:
        print_json(result)
    else:
        click.echo(f"Revoked key {key_id}.")
