"""Every option of every `fazt` command says what it does in `--help`."""

import click

from fazt.cli.main import cli


def _walk(command: click.Command, path: str, ctx: click.Context):
    if command.hidden:  # internal (e.g. `server worker`): not shown, not documented
        return
    yield path, command
    if isinstance(command, click.Group):
        sub_ctx = click.Context(command, parent=ctx, info_name=path.split()[-1])
        for name in command.list_commands(sub_ctx):
            sub = command.get_command(sub_ctx, name)
            if sub is not None:
                yield from _walk(sub, f"{path} {name}", sub_ctx)


def _all_commands() -> list[tuple[str, click.Command]]:
    return list(_walk(cli, "fazt", click.Context(cli, info_name="fazt")))


def test_the_walk_reaches_every_group_and_nested_command() -> None:
    paths = {path for path, _ in _all_commands()}
    # A walk that stopped at the lazily loaded top level would find only "fazt".
    assert {"fazt deploy", "fazt backup list", "fazt app create", "fazt server start"} <= paths
    assert len(paths) > 40


def test_every_visible_option_has_help() -> None:
    missing = [
        f"{path} {'/'.join(param.opts)}"
        for path, command in _all_commands()
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()
    ]
    assert missing == []
