"""`fazt redirect ...`: short links /r/<slug> on the dashboard host, with click counts."""

import click

from fazt.cli.common import api_client, print_json, print_table, remote_options


@click.group()
def redirect() -> None:
    """Short links: /r/SLUG on the dashboard host redirects to a URL."""


@redirect.command()
@click.argument("slug")
@click.argument("target", metavar="URL")
@remote_options
def add(slug, target, url, token, as_json) -> None:
    """Make /r/SLUG redirect to URL (http:// or https://)."""
    with api_client(url, token) as client:
        result = client.post("/api/redirects", json={"slug": slug, "url": target})
    if as_json:
        print_json(result)
    else:
        click.echo(f"/r/{result['slug']} -> {result['url']}")


@redirect.command("list")
@remote_options
def list_redirects(url, token, as_json) -> None:
    """List redirects, most clicked first."""
    with api_client(url, token) as client:
        rows = client.get("/api/redirects")
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["slug", "url", "clicks", "created_at"])


@redirect.command()
@click.argument("slug")
@remote_options
def remove(slug, url, token, as_json) -> None:
    """Delete the redirect /r/SLUG."""
    with api_client(url, token) as client:
        result = client.request("DELETE", f"/api/redirects/{slug}")
    if as_json:
        print_json(result)
    else:
        click.echo(f"Removed /r/{result['slug']}")
