"""`fazt app create NAME`: a ready-to-deploy folder from a template in the package."""

from pathlib import Path

import click

from fazt.cli.common import fail
from fazt.hosting.names import InvalidSiteName, validate_site_name
from fazt.templates import TEMPLATES, write_template


@click.command()
@click.argument("name")
@click.option(
    "--template",
    type=click.Choice(TEMPLATES),
    default="static",
    show_default=True,
    help="static: one page; api: a page with a serverless visit counter.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write it (default: ./NAME).",
)
def create(name: str, template: str, directory: Path | None) -> None:
    """Write a new app folder NAME from a template."""
    try:
        validate_site_name(name)
    except InvalidSiteName as exc:
        fail(f"cannot create '{name}': {exc}")
    target = directory or Path(name)
    if target.exists() and any(target.iterdir()):
        fail(f"{target} already exists and is not empty")
    written = write_template(name, template, target)
    click.echo(f"Created {target} ({template} template): {', '.join(written)}")
    click.echo(f"Deploy it with: fazt deploy {target}")
