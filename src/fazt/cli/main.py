"""The `fazt` command. Command groups are imported only when used, so that quick commands
(`fazt deploy` on a one-file change) do not pay for every module's imports."""

import difflib
import importlib
import logging

import click

from fazt import __version__

COMMANDS = {
    "server": ("fazt.cli.server", "server"),
    "deploy": ("fazt.cli.deploy", "deploy"),
    "app": ("fazt.cli.app", "app"),
    "domain": ("fazt.cli.domain", "domain"),
    "backup": ("fazt.cli.backup", "backup"),
    "replicate": ("fazt.cli.replicate", "replicate"),
    "standby": ("fazt.cli.standby", "standby"),
    "storage": ("fazt.cli.storage", "storage"),
    "key": ("fazt.cli.key", "key"),
    "auth": ("fazt.cli.auth", "auth"),
    "redirect": ("fazt.cli.redirect", "redirect"),
    "webhook": ("fazt.cli.webhook", "webhook"),
    "release": ("fazt.cli.release", "release"),
    "mcp": ("fazt.cli.mcp", "mcp"),
    "remote": ("fazt.cli.remote", "remote"),
    "upgrade": ("fazt.cli.upgrade", "upgrade"),
    "service": ("fazt.cli.service", "service"),
    "open": ("fazt.cli.browse", "open_"),
    "status": ("fazt.cli.status", "status"),
    "migrate-v09": ("fazt.cli.migrate_v09", "migrate_v09"),
}


class LazyGroup(click.Group):
    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            # click suggests from `self.commands`, empty here (commands load lazily), so
            # `fazt deplo` got no "Did you mean" while `fazt app lsit` did.
            # (click >= 8.4 raises NoSuchCommand with `possibilities`; older ones do not.)
            unsuggested = not getattr(exc, "possibilities", None)
            if exc.message.startswith("No such command") and unsuggested:
                exc.message += _suggestion(click.utils.make_str(args[0]), self.list_commands(ctx))
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)


def _suggestion(name: str, choices: list[str]) -> str:
    """The "Did you mean" clause, worded as click words it for its own groups, or ""."""
    matches = difflib.get_close_matches(name, choices)
    if not matches:
        return ""
    if len(matches) == 1:
        return f" Did you mean {matches[0]!r}?"
    return " (Did you mean one of: " + ", ".join(repr(m) for m in sorted(matches)) + "?)"


OPTION_WORDS = (
    "Options mean one thing in every command: --url a server's URL, --token its API key, "
    "--db the database file, --out a file the command writes, --replica a replica URL, "
    "--release-url a release index, --json JSON output."
)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=OPTION_WORDS,
)
@click.version_option(
    __version__,
    "-V",
    "--version",
    prog_name="fazt",
    message="%(prog)s %(version)s",
    help="Print `fazt <version>` and exit.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what the command does (debug) on stderr.")
def cli(verbose: bool) -> None:
    """fazt: a personal cloud in one program and one SQLite file."""
    if verbose:
        _log_debug()


def _log_debug() -> None:
    """Debug logging for the CLI's own logger only (a server started with -v stays as is)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("fazt.cli")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)


def main() -> None:
    cli()
