"""The `fazt` command. Command groups are imported only when used, so that quick commands
(`fazt deploy` on a one-file change) do not pay for every module's imports."""

import importlib

import click

from fazt import __version__

COMMANDS = {
    "server": ("fazt.cli.server", "server"),
    "deploy": ("fazt.cli.deploy", "deploy"),
    "app": ("fazt.cli.app", "app"),
    "domain": ("fazt.cli.domain", "domain"),
    "backup": ("fazt.cli.backup", "backup"),
    "replicate": ("fazt.cli.replicate", "replicate"),
    "key": ("fazt.cli.key", "key"),
    "redirect": ("fazt.cli.redirect", "redirect"),
    "webhook": ("fazt.cli.webhook", "webhook"),
    "release": ("fazt.cli.release", "release"),
    "mcp": ("fazt.cli.mcp", "mcp"),
    "remote": ("fazt.cli.remote", "remote"),
    "upgrade": ("fazt.cli.upgrade", "upgrade"),
    "service": ("fazt.cli.service", "service"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", "-v", prog_name="fazt", message="%(prog)s %(version)s"
)
def cli() -> None:
    """fazt: a personal cloud in one program and one SQLite file."""


def main() -> None:
    cli()
