"""`fazt deploy DIR`: upload only what the server lacks, then go live in one step.

The engine is fazt.remote.deploy; this module is the command and what it prints.
"""

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from fazt.cli.common import api_client, fail, human_size, json_option, token_option, url_option
from fazt.hosting.publishing_policy import secret_looking
from fazt.remote.deploy import (
    DeployInputError,
    DeployOutcome,
    LocalFile,
    deploy_files,
    deployable,
    no_progress,
    resolve_site_name,
)

SHOWN_NAMES = 10
# Exit codes: 0 live (or the preview is ready), 1 not live (refused, failed, or the server
# says so after a lost answer), 3 unknown (the server could not be asked).
EXIT_NOT_LIVE = 1
EXIT_UNKNOWN = 3


def listing(paths: list[str]) -> str:
    """'a, b, c and 4 more': names for one line of output."""
    shown = ", ".join(paths[:SHOWN_NAMES])
    more = len(paths) - SHOWN_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def site_name_for(root: Path, explicit: str | None) -> str:
    try:
        return resolve_site_name(root, explicit)
    except DeployInputError as exc:
        fail(str(exc))


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--site", default=None, help="Site name (default: manifest.json name, else the folder name)."
)
@url_option
@token_option
@click.option("--preview", is_flag=True, help="Publish without going live; prints a preview URL.")
@click.option(
    "--include-dotfiles",
    is_flag=True,
    help="Also publish files starting with '.' (never .git/, .ssh/ or .env*).",
)
@json_option
def deploy(directory, site, url, token, preview, include_dotfiles, as_json) -> None:
    """Deploy DIRECTORY as a site.

    Exit status: 0 live (or the preview is ready), 1 not live, 3 unknown (the server's
    answer was lost and it could not be asked; check with `fazt app info NAME`).
    """
    name = site_name_for(directory, site)
    try:
        files, refused = deployable(directory, include_dotfiles)
    except DeployInputError as exc:
        fail(str(exc))
    show = progress_bar if sys.stderr.isatty() else progress_lines
    show = no_progress if as_json else show
    say = (lambda msg: click.echo(msg, err=True)) if not as_json else (lambda msg: None)
    _warn_about_secrets(files)
    with api_client(url, token) as client:
        say(f"Deploying {len(files)} files ({human_size(sum(f.size for f in files))}) as '{name}'")
        try:
            result = deploy_files(
                client,
                name,
                files,
                preview=preview,
                include_dotfiles=include_dotfiles,
                progress=show,
                say=say,
            )
        except DeployOutcome as exc:  # the finalize answer was lost (docs/deploying.md)
            fail(str(exc), EXIT_UNKNOWN if exc.outcome == "unknown" else EXIT_NOT_LIVE)
    result["skipped"] = sorted({*refused, *result["skipped"]})
    if result["skipped"]:
        say(f"Not published: {listing(result['skipped'])}")
        say(SKIPPED_HINT + (")" if include_dotfiles else DOTFILES_HINT))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif preview:
        where = result["url"] or f"no URL (deployment URLs are off for '{name}')"
        click.echo(f"Preview ready (deployment {result['deployment_id']}): {where}")
        click.echo(f"Make it live with: fazt app promote {name} {result['deployment_id']}")
    else:
        click.echo(f"Live: {result['url']}  (deployment {result['deployment_id']})")
        if result.get("certificate") == "ready":
            click.echo("HTTPS certificate: ready")
        elif result.get("certificate") == "pending":
            click.echo(
                "HTTPS certificate: being issued (usually seconds; see `fazt server status`)"
            )


SKIPPED_HINT = "(.git/, .ssh/ and .env* files are never published"
DOTFILES_HINT = "; other dotfiles with --include-dotfiles)"


def _warn_about_secrets(files: list[LocalFile]) -> None:
    """Key and credential files are published if asked, but never silently."""
    secrets = [f.path for f in files if secret_looking(f.path)]
    if secrets:
        click.echo(
            f"Warning: these look like secrets and will be public: {listing(secrets)}", err=True
        )


@contextmanager
def progress_bar(label: str, total_bytes: int) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on the terminal for one phase of the deploy."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn(f"{label[-30:]:9}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=total_bytes or 1)
        yield lambda done: progress.advance(task, done)


LINE_SECONDS = 5.0
LINE_MIN_BYTES = 64 * 1024 * 1024  # smaller phases finish before a line would be worth it


@contextmanager
def progress_lines(label: str, total_bytes: int) -> Iterator[Callable[[int], None]]:
    """Progress without a terminal (a log, CI): a plain line at the start, every few
    seconds and at the end, with the rate and the time left, for phases big enough."""
    started = last = time.monotonic()
    done = 0

    def line() -> None:
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = f"{(total_bytes - done) / rate:.0f}" if rate else "?"
        click.echo(
            f"{label}: {100 * done // max(total_bytes, 1)}% ({human_size(done)} of "
            f"{human_size(total_bytes)}, {human_size(int(rate))}/s, {left} s left)",
            err=True,
        )

    def advance(n: int) -> None:
        nonlocal done, last
        done += n
        if time.monotonic() - last >= LINE_SECONDS and done < total_bytes:
            last = time.monotonic()
            line()

    if total_bytes < LINE_MIN_BYTES:
        yield lambda n: None
        return
    line()
    yield advance
    line()
