"""`fazt domain ...`: map custom domains to sites."""

import click

from fazt.cli.common import (
    api_client,
    print_json,
    print_table,
    remote_options,
)


@click.group()
def domain() -> None:
    """Map custom domains to sites."""


@domain.command()
@click.argument("domain_name")
@click.argument("site")
@remote_options
def add(domain_name, site, url, token, as_json) -> None:
    """Serve SITE at DOMAIN_NAME."""
    with api_client(url, token) as client:
        result = client.post("/api/domains", json={"domain": domain_name, "site": site})
    if as_json:
        print_json(result)
    else:
        click.echo(f"{result['domain']} -> {result['site']}")


@domain.command("list")
@remote_options
def list_domains(url, token, as_json) -> None:
    """List custom domains."""
    with api_client(url, token) as client:
        rows = client.get("/api/domains")
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["domain", "site", "created_at"])


@domain.command()
@click.argument("domain_name")
@remote_options
def remove(domain_name, url, token, as_json) -> None:
    """Stop serving DOMAIN_NAME."""
    with api_client(url, token) as client:
        result = client.request("DELETE", f"/api/domains/{domain_name}")
    if as_json:
        print_json(result)
    else:
        click.echo(f"Removed {result['domain']}")
