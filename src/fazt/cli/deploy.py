"""`fazt deploy DIR`: upload only what the server lacks, then go live in one step."""

import hashlib
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click

from fazt.cli.common import api_client, fail, human_size, json_option, to_option, token_option
from fazt.hosting import blobframes
from fazt.hosting.ignore import IGNORE_FILE, IgnoreRules
from fazt.hosting.names import InvalidSiteName, validate_site_name
from fazt.hosting.publishing_policy import DOTFILE, NEVER, PublishingPolicy, secret_looking
from fazt.remote.client import ApiError, FaztClient

# Build and dependency folders: never site content, so the walk does not even enter them.
# Everything else that is skipped is the server's publishing policy, applied here first.
BUILD_FOLDERS = {"node_modules", "__pycache__"}
SHOWN_NAMES = 10
UPLOAD_THREADS = 4
BATCH_FILE_LIMIT = 1024 * 1024  # smaller files are uploaded in batches
BATCH_BYTES = 4 * 1024 * 1024
BATCH_FILES = 500


@dataclass(frozen=True)
class LocalFile:
    path: str  # relative, forward slashes
    source: Path
    size: int
    sha256: str = ""


def collect(root: Path, include_dotfiles: bool = False) -> list[LocalFile]:
    """Files to deploy, honouring the publishing policy and .faztignore."""
    return walk(root, include_dotfiles)[0]


def walk(root: Path, include_dotfiles: bool = False) -> tuple[list[LocalFile], list[str]]:
    """(files to deploy, dotfiles and folders the policy leaves out, folders ending in /).
    What .faztignore lists and build folders are left out without being reported."""
    policy = PublishingPolicy(include_dotfiles, _ignore_rules(root))
    found, refused = [], []

    def keep(rel: str, source: Path) -> bool:
        if source.is_symlink() or rel.rstrip("/").rsplit("/", 1)[-1] in BUILD_FOLDERS:
            return False
        reason = policy.refusal(rel)
        if reason in (NEVER, DOTFILE):
            refused.append(rel)
        return reason is None

    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if keep(rel_dir + d + "/", Path(dirpath) / d))
        for name in sorted(filenames):
            rel, source = rel_dir + name, Path(dirpath) / name
            if keep(rel, source):
                found.append(LocalFile(rel, source, source.stat().st_size))
    return found, sorted(refused)


def _ignore_rules(root: Path) -> IgnoreRules:
    ignore_file = root / IGNORE_FILE
    if not ignore_file.is_file():
        return IgnoreRules()
    return IgnoreRules.parse(ignore_file.read_text("utf-8", errors="replace"))


def listing(paths: list[str]) -> str:
    """'a, b, c and 4 more': names for one line of output."""
    shown = ", ".join(paths[:SHOWN_NAMES])
    more = len(paths) - SHOWN_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def hash_file(local: LocalFile) -> LocalFile:
    digest = hashlib.sha256()
    with local.source.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return LocalFile(local.path, local.source, local.size, digest.hexdigest())


class DeployInputError(ValueError):
    """A folder that cannot be deployed as asked; the message says why."""


def resolve_site_name(root: Path, explicit: str | None, how_to_choose: str = "--site NAME") -> str:
    """The site name: explicit, else manifest.json's name, else the folder name."""
    name = explicit
    manifest = root / "manifest.json"
    if name is None and manifest.is_file():
        try:
            data = json.loads(manifest.read_text("utf-8"))
        except ValueError as exc:
            raise DeployInputError(f"{manifest} is not valid JSON: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            name = data["name"]
    if name is None:
        name = root.resolve().name.lower()
    name = name.strip().lower()
    if name not in ("root", "404"):
        try:
            validate_site_name(name)
        except InvalidSiteName as exc:
            raise DeployInputError(
                f"cannot deploy as '{name}': {exc}. Choose a name with {how_to_choose}."
            ) from None
    return name


def site_name_for(root: Path, explicit: str | None) -> str:
    try:
        return resolve_site_name(root, explicit)
    except DeployInputError as exc:
        fail(str(exc))


def files_to_deploy(root: Path, include_dotfiles: bool = False) -> list[LocalFile]:
    """collect(), refusing a folder with nothing to deploy."""
    return deployable(root, include_dotfiles)[0]


def deployable(root: Path, include_dotfiles: bool = False) -> tuple[list[LocalFile], list[str]]:
    """walk(), refusing a folder with nothing to deploy."""
    files, refused = walk(root, include_dotfiles)
    if not files:
        raise DeployInputError(
            f"{root} has no files to deploy (dotfiles, .git and node_modules are skipped)"
        )
    return files, refused


def deploy_files(
    client: FaztClient,
    name: str,
    files: list[LocalFile],
    *,
    preview: bool = False,
    include_dotfiles: bool = False,
    show: bool = False,
    say: Callable[[str], None] = lambda msg: None,
) -> dict:
    """Hash, upload only what the server lacks, then finalize; the server's answer.

    Shared by `fazt deploy` and the MCP deploy_folder tool. Raises ApiError.
    """
    total = sum(f.size for f in files)
    say(f"Deploying {len(files)} files ({human_size(total)}) as '{name}'")
    files = _with_progress(show, "Hashing", files, hash_file, total)
    body: dict = {"files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files]}
    if include_dotfiles:  # the server publishes dotfiles only when asked to
        body["include_dotfiles"] = True
    started = client.post(f"/api/apps/{name}/deployments", json=body)
    missing = set(started["missing"])
    to_send = list({f.sha256: f for f in files if f.sha256 in missing}.values())
    say(f"Uploading {len(to_send)} new file(s) of {len(files)}")
    _with_progress(
        show,
        "Uploading",
        upload_batches(to_send),
        lambda batch: _upload(client, batch),
        sum(f.size for f in to_send),
    )
    result = client.post(
        f"/api/deployments/{started['deployment_id']}/finalize", json={"preview": preview}
    )
    result["uploaded_files"] = len(to_send)
    result["skipped"] = started.get("skipped", [])
    return result


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--site", default=None, help="Site name (default: manifest.json name, else the folder name)."
)
@to_option
@token_option
@click.option("--preview", is_flag=True, help="Publish without going live; prints a preview URL.")
@click.option(
    "--include-dotfiles",
    is_flag=True,
    help="Also publish files starting with '.' (never .git/, .ssh/ or .env*).",
)
@json_option
def deploy(directory, site, url, token, preview, include_dotfiles, as_json) -> None:
    """Deploy DIRECTORY as a site."""
    name = site_name_for(directory, site)
    try:
        files, refused = deployable(directory, include_dotfiles)
    except DeployInputError as exc:
        fail(str(exc))
    show = sys.stderr.isatty() and not as_json
    say = (lambda msg: click.echo(msg, err=True)) if not as_json else (lambda msg: None)
    _warn_about_secrets(files)
    with api_client(url, token) as client:
        result = deploy_files(
            client,
            name,
            files,
            preview=preview,
            include_dotfiles=include_dotfiles,
            show=show,
            say=say,
        )
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


@dataclass(frozen=True)
class UploadBatch:
    files: tuple[LocalFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def upload_batches(files: list[LocalFile]) -> list[UploadBatch]:
    """Small files travel together (one request, one transaction); big ones alone."""
    batches, current, current_bytes = [], [], 0
    for local in sorted(files, key=lambda f: f.size):
        if local.size >= BATCH_FILE_LIMIT:
            batches.append(UploadBatch((local,)))
            continue
        if current and (current_bytes + local.size > BATCH_BYTES or len(current) >= BATCH_FILES):
            batches.append(UploadBatch(tuple(current)))
            current, current_bytes = [], 0
        current.append(local)
        current_bytes += local.size
    if current:
        batches.append(UploadBatch(tuple(current)))
    return batches


def _read_checked(local: LocalFile) -> bytes:
    data = local.source.read_bytes()
    if hashlib.sha256(data).hexdigest() != local.sha256:
        raise ApiError(f"{local.path} changed while deploying; run the deploy again")
    return data


def _upload(client: FaztClient, batch: UploadBatch) -> UploadBatch:
    octets = {"content-type": "application/octet-stream"}
    if len(batch.files) == 1 and batch.files[0].size >= BATCH_FILE_LIMIT:
        local = batch.files[0]
        client.request(
            "PUT", f"/api/blobs/{local.sha256}", content=_read_checked(local), headers=octets
        )
    else:
        body = b"".join(blobframes.encode(f.sha256, _read_checked(f)) for f in batch.files)
        client.request("POST", "/api/blobs", content=body, headers=octets)
    return batch


def _with_progress(show: bool, label: str, items: list, work, total_bytes: int) -> list:
    """Run `work` over items in a few threads, with a progress bar on a terminal."""
    if not items:
        return []
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        if not show:
            return list(pool.map(work, items))
        from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

        columns = (
            TextColumn(f"{label:9}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TransferSpeedColumn(),
        )
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task(label, total=total_bytes or 1)
            results = []
            for item in pool.map(work, items):
                progress.advance(task, item.size)
                results.append(item)
            return results
