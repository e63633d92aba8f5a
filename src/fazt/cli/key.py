"""`fazt key ...`: create, list and revoke API keys through a server's API (admin scope)."""

import click

from fazt.auth import tokens
from fazt.cli.common import api_client, fail, print_json, print_table, remote_options


@click.group()
def key() -> None:
    """Manage API keys (tokens are shown once; the server keeps only a hash)."""


@key.command()
@click.argument("name")
@click.option(
    "--scopes",
    default="deploy",
    show_default=True,
    help=f"Comma-separated: {', '.join(tokens.SCOPES)}.",
)
@click.option(
    "--sites",
    default=None,
    help="Comma-separated site names the key is limited to (default: every site).",
)
@remote_options
def create(name, scopes, sites, url, token, as_json) -> None:
    """Create a key called NAME and print its token (only this once)."""
    try:
        body = {"name": name, "scopes": sorted(tokens.parse_scopes(scopes))}
        if sites is not None:
            body["sites"] = sorted(tokens.parse_sites(sites))
    except ValueError as exc:
        fail(str(exc))
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
