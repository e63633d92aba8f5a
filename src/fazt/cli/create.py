"""`fazt app create NAME`: a ready-to-deploy folder from a template in the package."""

from importlib import resources
from pathlib import Path

import click

from fazt.cli.common import fail
from fazt.hosting.names import InvalidSiteName, validate_site_name

TEMPLATES = ("static", "api")


def _files(node, prefix: str = ""):
    for child in node.iterdir():
        if child.name.startswith("__"):  # __init__.py, __pycache__
            continue
        if child.is_dir():
            yield from _files(child, f"{prefix}{child.name}/")
        else:
            yield f"{prefix}{child.name}", child


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
    source = resources.files("fazt.templates").joinpath(template)
    written = []
    for rel, entry in sorted(_files(source)):
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry.read_text("utf-8").replace("{{name}}", name), "utf-8")
        written.append(rel)
    click.echo(f"Created {target} ({template} template): {', '.join(written)}")
    click.echo(f"Deploy it with: fazt deploy {target}")
