"""`fazt open [SITE]`: a site, or the dashboard, in the browser."""

import difflib
import webbrowser

import click

from fazt.cli.common import api_client, fail, token_option, url_option


@click.command("open")
@click.argument("site", required=False)
@click.option("--print", "print_only", is_flag=True, help="Print the URL; open no browser.")
@url_option
@token_option
def open_(site: str | None, print_only: bool, url: str | None, token: str | None) -> None:
    """Open SITE (default: the dashboard) in the browser; its URL is printed too."""
    with api_client(url, token) as client:
        # The server's URL is its admin URL: the dashboard (see `fazt remote add --url`).
        target = site_url(client.get("/api/apps"), site) if site else client.url
    click.echo(target)
    if not print_only and not webbrowser.open(target):
        click.echo("No browser found here: open the URL above yourself.", err=True)


def site_url(apps: list[dict], name: str) -> str:
    """The URL of site `name`, or the command ends naming the closest site names."""
    urls = {app["name"]: app.get("url") for app in apps}
    wanted = name.strip().lower()
    if urls.get(wanted):
        return urls[wanted]
    if wanted in urls:
        fail(
            f"site '{wanted}' has nothing live yet: `fazt deploy DIR --site {wanted}` puts it live"
        )
    close = difflib.get_close_matches(wanted, [n for n in urls if urls[n]])
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    fail(f"no site named '{name}' on this server.{hint} (`fazt app list` lists them)")
