"""The `fazt` command."""

import click

from fazt import __version__
from fazt.cli.app import app
from fazt.cli.deploy import deploy
from fazt.cli.domain import domain
from fazt.cli.server import server


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", "-v", prog_name="fazt", message="%(prog)s %(version)s"
)
def cli() -> None:
    """fazt: a personal cloud in one program and one SQLite file."""


cli.add_command(server)
cli.add_command(deploy)
cli.add_command(app)
cli.add_command(domain)


def main() -> None:
    cli()
