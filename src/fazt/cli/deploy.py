"""`fazt deploy DIR`: upload only what the server lacks, then go live in one step."""

import fnmatch
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
from fazt.hosting.names import InvalidSiteName, validate_site_name
from fazt.remote.client import ApiError, FaztClient

ALWAYS_SKIPPED = {".git", "node_modules", ".faztignore", "__pycache__", ".DS_Store"}
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
    """Files to deploy, honouring the skip rules and .faztignore."""
    ignore = _ignore_patterns(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not _skipped(d, rel_dir + d + "/", include_dotfiles, ignore)
            and not (Path(dirpath) / d).is_symlink()
        )
        for name in sorted(filenames):
            rel = rel_dir + name
            source = Path(dirpath) / name
            if _skipped(name, rel, include_dotfiles, ignore) or source.is_symlink():
                continue
            found.append(LocalFile(rel, source, source.stat().st_size))
    return found


def _ignore_patterns(root: Path) -> list[str]:
    ignore_file = root / ".faztignore"
    if not ignore_file.is_file():
        return []
    lines = ignore_file.read_text("utf-8", errors="replace").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _skipped(name: str, rel: str, include_dotfiles: bool, ignore: list[str]) -> bool:
    if name in ALWAYS_SKIPPED or (name.startswith(".") and not include_dotfiles):
        return True
    for pattern in ignore:
        if pattern.endswith("/"):
            if rel.endswith("/") and (
                fnmatch.fnmatch(rel, pattern.lstrip("/")) or fnmatch.fnmatch(name + "/", pattern)
            ):
                return True
        elif fnmatch.fnmatch(rel.rstrip("/"), pattern.lstrip("/")) or fnmatch.fnmatch(
            name, pattern
        ):
            return True
    return False


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
    files = collect(root, include_dotfiles)
    if not files:
        raise DeployInputError(
            f"{root} has no files to deploy (dotfiles, .git and node_modules are skipped)"
        )
    return files


def deploy_files(
    client: FaztClient,
    name: str,
    files: list[LocalFile],
    *,
    preview: bool = False,
    show: bool = False,
    say: Callable[[str], None] = lambda msg: None,
) -> dict:
    """Hash, upload only what the server lacks, then finalize; the server's answer.

    Shared by `fazt deploy` and the MCP deploy_folder tool. Raises ApiError.
    """
    total = sum(f.size for f in files)
    say(f"Deploying {len(files)} files ({human_size(total)}) as '{name}'")
    files = _with_progress(show, "Hashing", files, hash_file, total)
    started = client.post(
        f"/api/apps/{name}/deployments",
        json={"files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files]},
    )
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
    return result


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--site", default=None, help="Site name (default: manifest.json name, else the folder name)."
)
@to_option
@token_option
@click.option("--preview", is_flag=True, help="Publish without going live; prints a preview URL.")
@click.option("--include-dotfiles", is_flag=True, help="Also upload files starting with '.'.")
@json_option
def deploy(directory, site, url, token, preview, include_dotfiles, as_json) -> None:
    """Deploy DIRECTORY as a site."""
    name = site_name_for(directory, site)
    try:
        files = files_to_deploy(directory, include_dotfiles)
    except DeployInputError as exc:
        fail(str(exc))
    show = sys.stderr.isatty() and not as_json
    say = (lambda msg: click.echo(msg, err=True)) if not as_json else (lambda msg: None)
    with api_client(url, token) as client:
        result = deploy_files(client, name, files, preview=preview, show=show, say=say)
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
