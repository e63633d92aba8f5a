"""One meaning per option name: `--url` a server, `--out` a file written, `--replica` a
replica URL, `--release-url` a release index. The old spellings still parse (hidden, with a
one-line notice on stderr) and land in the same parameter as the new ones."""

import click
import pytest

from fazt.cli.main import cli


def command(path: str) -> click.Command:
    """The Click command at `path` ("app list"), through the lazily loaded groups."""
    found: click.Command = cli
    ctx = click.Context(cli, info_name="fazt")
    for name in path.split():
        assert isinstance(found, click.Group)
        found = found.get_command(ctx, name)
        ctx = click.Context(found, parent=ctx, info_name=name)
    return found


def parse(path: str, *args: str) -> dict:
    cmd = command(path)
    with cmd.make_context(path.split()[-1], list(args)) as ctx:
        return dict(ctx.params)


RENAMES = [
    # (command, old spelling, new spelling, a value)
    ("app list", "--to", "--url", "http://127.0.0.1:9"),
    ("deploy", "--to", "--url", "http://127.0.0.1:9"),
    ("key create", "--to", "--url", "http://127.0.0.1:9"),
    ("domain list", "--to", "--url", "http://127.0.0.1:9"),
    ("backup create", "--to", "--out", "/tmp/backups/"),
    ("replicate enable", "--to", "--replica", "file:///tmp/replica"),
    ("replicate restore", "--to", "--out", "/tmp/then.db"),
    ("replicate restore", "--from", "--replica", "file:///tmp/replica"),
    ("upgrade", "--url", "--release-url", "/tmp/releases.json"),
    ("remote upgrade", "--url", "--release-url", "/tmp/releases.json"),
]


def _args(path: str, option: str, value: str) -> list[str]:
    """The option and what else the command needs to parse."""
    needs = {"deploy": ["."], "key create": ["ci"]}.get(path, [])
    if path == "replicate restore" and option in ("--from", "--replica"):
        needs = ["--out", "/tmp/x.db"]  # required
    return [*needs, option, value]


@pytest.mark.parametrize(("path", "old", "new", "value"), RENAMES)
def test_old_and_new_spelling_give_the_same_parameters(path, old, new, value, capsys):
    with_new = parse(path, *_args(path, new, value))
    assert capsys.readouterr().err == ""
    with_old = parse(path, *_args(path, old, value))
    assert with_old == with_new
    assert value in {str(v) for v in with_new.values()}
    assert f"note: {old} is now {new}" in capsys.readouterr().err


@pytest.mark.parametrize(("path", "old", "new", "value"), RENAMES)
def test_help_shows_the_new_spelling_only(path, old, new, value):
    cmd = command(path)
    with cmd.make_context(path.split()[-1], ["--help"], resilient_parsing=True) as ctx:
        text = cmd.get_help(ctx)
    assert new in text
    # The old spelling is gone from help unless it is another option's new name.
    visible = {o for p in cmd.params if not getattr(p, "hidden", False) for o in p.opts}
    assert old in visible or f"{old} " not in text


def test_the_new_spelling_wins_when_both_are_given(capsys):
    params = parse("app list", "--to", "http://old:1", "--url", "http://new:2")
    assert params["url"] == "http://new:2"


def test_a_required_renamed_option_is_satisfied_by_its_old_spelling():
    assert parse("replicate enable", "--to", "file:///r")["url"] == "file:///r"
    with pytest.raises(click.MissingParameter):
        parse("replicate enable")


def test_top_level_help_says_what_each_option_name_means():
    with cli.make_context("fazt", ["--help"], resilient_parsing=True) as ctx:
        text = " ".join(cli.get_help(ctx).split())
    assert "--url a server's URL" in text and "--out a file the command writes" in text
