"""Every `fazt ...` command line in the fenced code blocks of README.md and docs/*.md names
a real command with options it has (and not a hidden old spelling): a renamed option or
command cannot leave stale docs behind.

Each line is parsed by Click itself (`make_context(..., resilient_parsing=True)`, which
neither runs the command nor asks for missing required options). Placeholder syntax the
docs use is read as meant: `[--json]` is the option, `a|b` means each alternative, `…` a value."""

import re
import shlex
from pathlib import Path

import click
import pytest

from fazt.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_ENDS = {"&&", "||", "|", ";", "&", ">", ">>", "2>&1", "<", ")"}
FENCE = re.compile(r"^```(\w*)\s*$")


def fenced_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the shell-ish fenced blocks, continuation lines joined."""
    found, lang, start, pending = [], None, 0, ""
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line.strip())
        if fence:
            lang = None if lang is not None else fence.group(1)
            continue
        if lang is None or lang not in ("", "sh", "bash", "shell", "console"):
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        found.append((start, pending + line))
        pending = ""
    return found


def fazt_commands(line: str) -> list[list[str]]:
    """The argument lists given to `fazt` on one shell line (`$ ` prompts, comments,
    `sudo -u fazt env X=Y`, `.venv/bin/fazt` and `&&` chains understood)."""
    line = re.sub(r"^\s*\$\s+", "", line)
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote in prose-like examples: not a command line
        return []
    commands = []
    for index, word in enumerate(words):
        if word == "fazt" or (word.endswith("/fazt") and "=" not in word):
            if index and words[index - 1] in ("-u", "--user"):  # `sudo -u fazt`
                continue
            args = []
            for arg in words[index + 1 :]:
                if arg in SHELL_ENDS or arg.startswith((">", "2>")):
                    break
                args.append(arg)
            if args and not args[0].startswith("-"):
                commands.append(args)
    return commands


def expand(args: list[str]) -> list[list[str]]:
    """`[--json]` -> `--json`; a command word `a|b` -> one line per alternative."""
    args = [a.strip("[]") for a in args if a.strip("[]")]
    args = ["VALUE" if a in ("...", "…") else a for a in args]  # an elided value
    for index, arg in enumerate(args[:3]):
        if "|" in arg and not arg.startswith("-"):
            return [
                line
                for choice in arg.split("|")
                for line in expand([*args[:index], choice, *args[index + 1 :]])
            ]
    return [args]


def documented() -> list[tuple[str, list[str]]]:
    lines = []
    for doc in DOCS:
        for number, line in fenced_lines(doc.read_text()):
            for args in fazt_commands(line):
                for expanded in expand(args):
                    lines.append((f"{doc.relative_to(ROOT)}:{number}", expanded))
    return lines


def visible_options(command: click.Command) -> set[str]:
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option) and not param.hidden
        for opt in (*param.opts, *param.secondary_opts)
    } | {"-h", "--help"}


def check(args: list[str]) -> str | None:
    """Why `fazt ARGS` would not parse as documented, or None."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="fazt", resilient_parsing=True)
    path, rest = ["fazt"], list(args)
    while isinstance(command, click.Group):
        while rest and rest[0].startswith("-"):  # group options such as `fazt -v`
            takes_value = [  # `fazt standby --from URL`: the value is no command name
                o
                for o in command.params
                if isinstance(o, click.Option) and rest[0] in o.opts and not o.is_flag
            ]
            rest.pop(0)
            if takes_value and rest:
                rest.pop(0)
        if not rest:
            return None  # `fazt server --help`-like: the group itself
        name = rest.pop(0)
        sub = command.get_command(ctx, name)
        if sub is None or sub.hidden:
            return f"`{' '.join(path)} {name}`: no such command (or a hidden old name)"
        path.append(name)
        command = sub
        ctx = click.Context(command, parent=ctx, info_name=name, resilient_parsing=True)
    known = visible_options(command)
    for arg in rest:
        option = arg.split("=", 1)[0]
        if option.startswith("--") and option not in known:
            return f"`{' '.join(path)}` has no option {option}"
    try:
        parsed = command.make_context(
            path[-1], list(rest), parent=ctx.parent, resilient_parsing=True
        )
    except click.UsageError as exc:
        return f"`{' '.join(path)}`: {exc.format_message()}"
    if parsed.args and not command.allow_extra_args:  # resilient parsing lets these pass
        return f"`{' '.join(path)}` takes no more arguments: {' '.join(parsed.args)}"
    return None


DOCUMENTED = documented()

# `fazt <version>` is output; `fazt server worker` the internal process docs/upgrade.md explains.
NOT_COMMANDS = ("fazt <", "fazt server worker")
INLINE = re.compile(r"`((?:\.venv/bin/)?fazt [^`]+)`")


def inline_mentions() -> list[tuple[str, str]]:
    """`fazt ...` code spans in the prose and tables (outside fenced blocks)."""
    found = []
    for doc in DOCS:
        fenced = False
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            if FENCE.match(line.strip()):
                fenced = not fenced
            elif not fenced:
                where = f"{doc.relative_to(ROOT)}:{number}"
                found += [
                    (where, m.group(1).replace("\\|", "|"))
                    for m in INLINE.finditer(line)
                    # "the old `fazt server create-key`": a deliberate mention of an alias
                    if "old " not in line[max(0, m.start() - 12) : m.start()]
                    and not m.group(1).startswith(NOT_COMMANDS)
                ]
    return found


def check_mention(text: str) -> str | None:
    """A looser check for placeholder syntax (`fazt app list|info [--json]`): the command
    words name visible commands, and every --option is a visible option of the command."""
    words = [w.strip("[](),") for w in text.split()[1:]]
    words = [w for w in words if w and w not in ("...", "…")]
    command: click.Command = cli
    ctx = click.Context(cli, info_name="fazt")
    path = ["fazt"]
    while isinstance(command, click.Group) and words and not words[0].startswith("-"):
        choices = words.pop(0).split("|")
        subs = [command.get_command(ctx, c) for c in choices]
        if any(sub is None or sub.hidden for sub in subs):
            return f"`{' '.join(path)} {'|'.join(choices)}`: no such command (or a hidden old name)"
        if len(subs) > 1:
            return None  # alternatives: each was checked to exist
        path.append(choices[0])
        command = subs[0]
        ctx = click.Context(command, parent=ctx, info_name=choices[0])
    known = visible_options(command)
    for word in words:
        for option in word.split("|"):
            option = option.split("=", 1)[0]
            if option.startswith("--") and option not in known:
                return f"`{' '.join(path)}` has no option {option}"
    return None


MENTIONS = inline_mentions()


def test_the_docs_show_many_fazt_command_lines():
    # An extractor that found nothing would pass every check below.
    files = {where.split(":")[0] for where, _ in DOCUMENTED}
    assert len(DOCUMENTED) > 60 and len(files) >= 8, files


@pytest.mark.parametrize(
    ("where", "args"), DOCUMENTED, ids=[f"{w} {' '.join(a)}" for w, a in DOCUMENTED]
)
def test_documented_command_line_parses(where, args):
    problem = check(args)
    assert problem is None, f"{where}: fazt {' '.join(args)}\n  {problem}"


@pytest.mark.parametrize(
    "args",
    [
        ["deploy", "./site", "--to", "http://x"],  # a hidden old option spelling
        ["server", "create-key", "--name", "ci"],  # a hidden old command name
        ["backup", "create", "--into", "/tmp"],  # no such option
        ["deplo", "./site"],  # no such command
        ["app", "list", "extra", "words"],  # more arguments than the command takes
    ],
)
def test_a_stale_line_is_caught(args):
    assert check(args) is not None


def test_the_docs_mention_many_fazt_commands_inline():
    assert len(MENTIONS) > 40


@pytest.mark.parametrize(("where", "text"), MENTIONS, ids=[f"{w} {t}" for w, t in MENTIONS])
def test_inline_command_mention_names_real_commands_and_options(where, text):
    problem = check_mention(text)
    assert problem is None, f"{where}: {text}\n  {problem}"


@pytest.mark.parametrize(
    "text",
    [
        "fazt server set-credentials [--username U]",  # a hidden old command name
        "fazt deploy DIR [--to URL --token T]",  # a hidden old option spelling
        "fazt app list|lsit",  # one alternative that does not exist
    ],
)
def test_a_stale_mention_is_caught(text):
    assert check_mention(text) is not None
