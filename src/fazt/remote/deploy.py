"""The client deploy engine: walk a folder, hash, upload only what the server lacks, go live.

Shared by `fazt deploy` (cli/deploy.py) and the MCP deploy_folder tool. It prints nothing:
messages go through `say` and progress through a `Progress` callback, so any front end
(a terminal, an agent) decides how to show them.
"""

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fazt.backoff import Backoff
from fazt.hosting import blobframes
from fazt.hosting.ignore import IGNORE_FILE, IgnoreRules
from fazt.hosting.names import InvalidSiteName, validate_site_name
from fazt.hosting.publishing_policy import DOTFILE, NEVER, PublishingPolicy
from fazt.remote.client import ApiError, FaztClient
from fazt.remote.stream_upload import send_file

# Build and dependency folders: never site content, so the walk does not even enter them.
# Everything else that is skipped is the server's publishing policy, applied here first.
BUILD_FOLDERS = {"node_modules", "__pycache__"}
UPLOAD_THREADS = 4
BATCH_FILE_LIMIT = 1024 * 1024  # smaller files are uploaded in batches
BATCH_BYTES = 4 * 1024 * 1024
BATCH_FILES = 500
# Bigger files are streamed in pieces through the resumable upload (remote/stream_upload.py).
STREAM_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    path: str  # relative, forward slashes
    source: Path
    size: int
    sha256: str = ""


class Progress(Protocol):
    """One phase ("Hashing", "Uploading") of `total_bytes`: a context that yields the
    function to call with the bytes of each finished item."""

    def __call__(
        self, label: str, total_bytes: int
    ) -> AbstractContextManager[Callable[[int], None]]: ...


@contextmanager
def no_progress(label: str, total_bytes: int) -> Iterator[Callable[[int], None]]:
    """A Progress that shows nothing."""
    yield lambda done: None


class DeployInputError(ValueError):
    """A folder that cannot be deployed as asked; the message says why."""


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


def hash_file(local: LocalFile) -> LocalFile:
    digest = hashlib.sha256()
    with local.source.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return LocalFile(local.path, local.source, local.size, digest.hexdigest())


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
    progress: Progress = no_progress,
    say: Callable[[str], None] = lambda msg: None,
) -> dict:
    """Hash, upload only what the server lacks, then finalize; the server's answer.

    Raises ApiError.
    """
    total = sum(f.size for f in files)
    files = _in_threads(progress, "Hashing", files, hash_file, total)
    body: dict = {"files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files]}
    if include_dotfiles:  # the server publishes dotfiles only when asked to
        body["include_dotfiles"] = True
    started = client.post(f"/api/apps/{name}/deployments", json=body)
    missing = set(started["missing"])
    to_send = list({f.sha256: f for f in files if f.sha256 in missing}.values())
    say(f"Uploading {len(to_send)} new file(s) of {len(files)}")
    big = [f for f in to_send if f.size >= STREAM_BYTES]
    small = [f for f in to_send if f.size < STREAM_BYTES]
    _in_threads(
        progress,
        "Uploading",
        upload_batches(small),
        lambda batch: _upload(client, batch),
        sum(f.size for f in small),
    )
    streamed = _stream(client, name, big, progress, say)
    result = finalize(client, name, started["deployment_id"], preview=preview, say=say)
    result["uploaded_files"] = len(to_send)
    result["uploaded_bytes"] = sum(f.size for f in small) + streamed
    result["skipped"] = started.get("skipped", [])
    return result


# A finalize whose answer is lost is sent again (the server answers a repeat with the same
# success): 0.5 + 1 + 2 + 4 s covers a worker restarting after a crash.
FINALIZE_ATTEMPTS = 5
FINALIZE_BACKOFF = Backoff(base=0.5, cap=4.0)
# No answer, or one that may come after the commit (a proxy's 502 while fazt restarts).
UNCERTAIN_STATUSES = (500, 502, 503, 504)


class DeployOutcome(ApiError):
    """The finalize answer never came; `outcome` is what the server said afterwards:
    "not_live", or "unknown" when it could not be asked."""

    def __init__(self, message: str, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def finalize(
    client: FaztClient,
    name: str,
    deployment_id: int,
    *,
    preview: bool = False,
    say: Callable[[str], None] = lambda msg: None,
) -> dict:
    """Finalize, retrying when the answer is lost; then ask the server what is true.

    Raises ApiError (the server refused) or DeployOutcome (the answer was lost).
    """
    path = f"/api/deployments/{deployment_id}/finalize"
    for attempt in range(1, FINALIZE_ATTEMPTS + 1):
        try:
            return client.post(path, json={"preview": preview})
        except ApiError as exc:
            if not _uncertain(exc):
                raise
            lost = exc
        if attempt < FINALIZE_ATTEMPTS:
            say(f"No answer to finalize ({lost}); asking again")
            time.sleep(FINALIZE_BACKOFF.delay(attempt))
    return resolve(client, name, deployment_id, preview=preview, lost=lost)


def _uncertain(exc: ApiError) -> bool:
    """Whether the call may or may not have happened on the server."""
    return exc.status is None or exc.status in UNCERTAIN_STATUSES


def resolve(
    client: FaztClient, name: str, deployment_id: int, *, preview: bool, lost: ApiError
) -> dict:
    """The finalize's outcome, read from the deployment history: the deploy's answer when
    the deployment is what was asked for (live, or a ready preview), else DeployOutcome."""
    unknown = DeployOutcome(
        f"{lost}\n  unknown: deployment {deployment_id} of '{name}' may or may not be "
        f"live; check with `fazt app info {name}`",
        "unknown",
    )
    try:
        history = client.get(f"/api/apps/{name}/deployments")
        dep = next((d for d in history if d["id"] == deployment_id), None)
        url = None
        if dep is not None:
            url = client.get(f"/api/apps/{name}")["url"] if dep["live"] else dep["url"]
    except ApiError as exc:
        if exc.code != "APP_NOT_FOUND":  # a first deploy that never finished is no app
            raise unknown from None
        dep = None
    if dep is None or dep["live"] == preview:
        now = "was never finalized" if dep is None else f"is {'' if dep['live'] else 'not '}live"
        raise DeployOutcome(
            f"{lost}\n  not live: the server answers that deployment {deployment_id} {now}; "
            f"'{name}' serves what it served before. Run the deploy again.",
            "not_live",
        )
    return {
        "site": name,
        "deployment_id": deployment_id,
        "preview_id": dep["preview_id"],
        "live": dep["live"],
        "file_count": dep["file_count"],
        "size_bytes": dep["size_bytes"],
        "url": url,
        "message": "Deployment successful" if dep["live"] else "Preview deployment ready",
        "certificate": None,
    }


def _stream(
    client: FaztClient,
    site: str,
    files: list[LocalFile],
    progress: Progress,
    say: Callable[[str], None],
) -> int:
    """Send the big files one by one, each resumable; the bytes sent."""
    sent = 0
    for local in sorted(files, key=lambda f: f.path):
        with progress(local.path, local.size) as advance:
            sent += send_file(
                client, site, local.path, local.source, local.sha256, local.size, advance, say
            )
    return sent


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


def _in_threads(progress: Progress, label: str, items: list, work, total_bytes: int) -> list:
    """Run `work` over items in a few threads, reporting each finished item's bytes."""
    if not items:
        return []
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool, progress(label, total_bytes) as advance:
        results = []
        for item in pool.map(work, items):
            advance(item.size)
            results.append(item)
        return results
