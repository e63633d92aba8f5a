"""Deploy endpoints: the ZIP upload (compatible with fazt 0.9 clients) and the
incremental protocol our CLI uses (manifest -> missing blobs -> upload -> finalize)."""

import re
import tempfile
from typing import Any

from fazt.api.access import check_site, owns
from fazt.auth.tokens import ApiKey
from fazt.cpu import run_cpu
from fazt.db import Database, disk
from fazt.hosting import archive, blobframes, deployments, mime
from fazt.hosting.deployments import FileEntry, sha256_hex
from fazt.hosting.manifest import InvalidManifest, parse
from fazt.hosting.names import InvalidSiteName, validate_site_name
from fazt.hosting.paths import UnsafePath, deployment_path
from fazt.hosting.publishing_policy import PublishingPolicy
from fazt.https.names import site_host
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SPOOL_BYTES = 8 * 1024 * 1024
BLOB_BATCH_BYTES = 8 * 1024 * 1024


def check_site_name(state: ServerState, key: ApiKey, raw: str) -> str:
    """Validate a site name for deploying; system sites only with the admin scope."""
    name = raw.strip().lower()
    suffix = "." + state.domain
    if name.endswith(suffix):  # "blog.example.com" deploys to "blog"
        name = name[: -len(suffix)]
    if name in ("root", "404"):
        if not key.allows("admin"):
            raise HTTPError(
                403, "SYSTEM_SITE", f"'{name}' is a system site; only an admin key may replace it"
            )
        check_site(key, name)
        return name
    try:
        validate_site_name(name)
    except InvalidSiteName as exc:
        raise HTTPError(400, "INVALID_SITE_NAME", str(exc)) from None
    check_site(key, name)
    return name


def _deploy_result(state: ServerState, info: dict, skipped: list[str] | None) -> dict:
    live = info["live"]
    url = state.site_url(info["site"])
    if not live:  # a preview's own URL, unless the site has turned those off
        on = info["preview_id"] in state.routing.previews
        url = state.site_url(info["site"], info["preview_id"]) if on else None
    return {
        "site": info["site"],
        "deployment_id": info["id"],
        "preview_id": info["preview_id"],
        "live": live,
        "file_count": info["file_count"],
        "size_bytes": info["size_bytes"],
        "url": url,
        "message": "Deployment successful" if live else "Preview deployment ready",
        "certificate": _certificate_state(state, info["site"], live),
        **({} if skipped is None else {"skipped": skipped}),
    }


def _certificate_state(state: ServerState, site: str, live: bool) -> str | None:
    """HTTPS only: "ready" when the served certificate covers the site, else "pending";
    previews are not in the certificate ("not_covered"). None when HTTPS is off."""
    if state.tls is None:
        return None
    if not live:
        return "not_covered"
    return state.tls.certificate_state(site_host(site, state.domain))


def deploy_result(state: ServerState, info: dict) -> dict:
    """What a deploy answers (its URL, live or preview), for the dashboard's upload form."""
    return _deploy_result(state, info, None)


async def _published(
    state: ServerState, info: dict, skipped: list[str] | None = None, status: int = 200
) -> Response:
    """The deploy's answer; `skipped` (ZIP deploys) lists what the policy left out."""
    await state.refresh_routing()
    return json_response(_deploy_result(state, info, skipped), status)


# -- POST /api/deploy (multipart ZIP) -------------------------------------------------------


async def deploy_zip(state: ServerState, req: Request, key: ApiKey) -> Response:
    fields, upload = await read_upload(state, req)
    try:
        info, skipped = await publish_upload(state, key, fields, upload)
    finally:
        if upload is not None:
            upload.close()
    return await _published(state, info, skipped)


async def read_upload(state: ServerState, req: Request) -> tuple[dict[str, str], Any]:
    """A multipart body (site_name, file, ...) spooled within the upload limit: its text
    fields and the `file` part (a file object the caller closes), or None."""
    limits = state.limits
    ctype = req.header("content-type") or ""
    if not ctype.startswith("multipart/form-data"):
        raise HTTPError(400, "BAD_REQUEST", "send multipart/form-data with site_name and file")
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        size = 0
        async for chunk in req.stream():  # (408 when it stalls or trickles)
            size += len(chunk)
            if size > limits.max_upload_bytes:
                raise HTTPError(
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"the upload exceeds {limits.max_upload_bytes} bytes",
                )
            spool.write(chunk)
        spool.seek(0)
        return await run_cpu(_parse_form, ctype, size, spool)


async def publish_upload(
    state: ServerState, key: ApiKey, fields: dict[str, str], upload: Any
) -> tuple[dict, list[str]]:
    """Publish the ZIP archive of a multipart deploy: the deployment and what was skipped.
    The dashboard's upload form uses it too (fazt.admin.deploy_page)."""
    limits = state.limits
    if not fields.get("site_name"):
        raise HTTPError(400, "MISSING_FIELD", "missing site_name field")
    site = check_site_name(state, key, fields["site_name"])
    if upload is None:
        raise HTTPError(400, "MISSING_FIELD", "missing file field (a .zip archive)")
    dotfiles = _flag(fields.get("include_dotfiles", ""))
    zipped = await run_cpu(archive.ZipDeploy, upload, limits, dotfiles)
    try:
        manifest = _manifest_from(await run_cpu(zipped.read, "manifest.json"))
        await check_room(state.db, zipped.entries)
        await run_cpu(_store_blobs, state.db, zipped)
    finally:
        zipped.close()
    preview = _flag(fields.get("preview", ""))
    info = await state.db.write(
        deployments.publish, site, zipped.entries, manifest, key.name, not preview
    )
    return info, zipped.skipped


# Room a deploy needs on the database's disk: its new bytes twice (SQLite's write-ahead
# log holds them before they are copied into the database file) and a margin.
ROOM_FACTOR = 2
ROOM_MARGIN = 8 * 1024 * 1024


async def check_room(db: Database, files: list[FileEntry]) -> None:
    """Refuse (507 INSUFFICIENT_STORAGE) a deploy whose new files would not fit, before
    anything is stored."""
    if disk.no_room(db.path, ROOM_FACTOR * sum(f.size for f in files) + ROOM_MARGIN) is None:
        return  # fits even if every file is new: no need to ask which are
    missing = set(await db.read(deployments.missing_blobs, [f.sha256 for f in files]))
    new = sum({f.sha256: f.size for f in files if f.sha256 in missing}.values())
    refusal = disk.no_room(db.path, ROOM_FACTOR * new + ROOM_MARGIN)
    if refusal is not None:
        raise refusal


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes")


def _store_blobs(db: Database, zipped: archive.ZipDeploy) -> None:
    """Store the archive's blobs in batches (runs on the CPU pool): memory stays bounded
    however large the archive. Nothing is visible until the deployment is published."""
    batch, batch_bytes = [], 0
    for entry, data in zipped.files():
        batch.append((entry.sha256, data))
        batch_bytes += len(data)
        if batch_bytes >= BLOB_BATCH_BYTES:
            db.write_sync(deployments.store_blobs, batch)
            batch, batch_bytes = [], 0
    if batch:
        db.write_sync(deployments.store_blobs, batch)


def _parse_form(ctype: str, size: int, stream: Any) -> tuple[dict[str, str], Any]:
    fields: dict[str, str] = {}
    uploads: list = []

    def on_field(field: Any) -> None:
        if field.field_name and field.value is not None:
            fields[field.field_name.decode(errors="replace")] = field.value.decode(errors="replace")

    def on_file(file: Any) -> None:
        if file.field_name == b"file":
            file.file_object.seek(0)
            uploads.append(file.file_object)
        else:
            file.close()

    # Imported at the first upload: an idle worker does not pay for it.
    import python_multipart
    from python_multipart.exceptions import FormParserError

    headers = {"Content-Type": ctype.encode(), "Content-Length": str(size).encode()}
    try:
        python_multipart.parse_form(headers, stream, on_field, on_file)
    except (FormParserError, ValueError) as exc:
        raise HTTPError(400, "BAD_REQUEST", f"malformed multipart body: {exc}") from None
    return fields, (uploads[0] if uploads else None)


def _manifest_from(raw: bytes | None):
    try:
        return parse(raw)
    except InvalidManifest as exc:
        raise HTTPError(400, "INVALID_MANIFEST", str(exc)) from None


# -- incremental protocol -------------------------------------------------------------------


async def start_deployment(state: ServerState, req: Request, key: ApiKey, name: str) -> Response:
    """POST /api/apps/{name}/deployments {"files": [{path, sha256, size}],
    "include_dotfiles": false} -> the blobs to upload and the paths the policy skipped."""
    site = check_site_name(state, key, name)
    body = await req.json(limit=16 * 1024 * 1024)
    files, skipped = _publishable(_file_list(state, body), _dotfiles_field(body))
    await check_room(state.db, files)
    dep_id = await state.db.write(deployments.create_pending, site, files, parse(None), key.name)
    missing = await state.db.read(deployments.missing_blobs, [f.sha256 for f in files])
    return json_response({"deployment_id": dep_id, "missing": missing, "skipped": skipped}, 201)


def _dotfiles_field(body: dict) -> bool:
    value = body.get("include_dotfiles", False)
    if not isinstance(value, bool):
        raise HTTPError(400, "BAD_REQUEST", "include_dotfiles must be true or false")
    return value


def _publishable(
    files: list[FileEntry], include_dotfiles: bool
) -> tuple[list[FileEntry], list[str]]:
    """The files the publishing policy lets through, and the paths it skipped."""
    policy = PublishingPolicy(include_dotfiles)
    published, skipped = policy.split([f.path for f in files])
    if not published:
        raise HTTPError(
            400,
            "EMPTY_DEPLOY",
            f"nothing to publish: every file is skipped ({', '.join(skipped[:10])})",
        )
    keep = set(published)
    return [f for f in files if f.path in keep], skipped


def _file_list(state: ServerState, body: Any) -> list[FileEntry]:
    """The declared files, checked. Sizes are the client's word: finalize compares them
    with the stored bytes."""
    limits = state.limits
    if not isinstance(body, dict) or not isinstance(body.get("files"), list):
        raise HTTPError(400, "BAD_REQUEST", 'expected {"files": [{"path", "sha256", "size"}]}')
    raw_files = body["files"]
    if not raw_files:
        raise HTTPError(400, "EMPTY_DEPLOY", "a deployment needs at least one file")
    if len(raw_files) > limits.max_files:
        raise HTTPError(
            413, "TOO_MANY_FILES", f"{len(raw_files)} files; the limit is {limits.max_files}"
        )
    files, seen, total = [], set(), 0
    for item in raw_files:
        if not isinstance(item, dict):
            raise HTTPError(400, "BAD_REQUEST", "each file must be an object")
        path, sha, size = item.get("path"), item.get("sha256"), item.get("size")
        if not isinstance(path, str) or not isinstance(sha, str) or type(size) is not int:
            raise HTTPError(400, "BAD_REQUEST", "each file needs path, sha256 and size")
        try:
            path = deployment_path(path)
        except UnsafePath as exc:
            raise HTTPError(400, "UNSAFE_PATH", str(exc)) from None
        if not _SHA256.match(sha):
            raise HTTPError(400, "BAD_REQUEST", f"'{path}': sha256 must be 64 hex digits")
        if size < 0:
            raise HTTPError(413, "FILE_TOO_LARGE", f"'{path}': size must not be negative")
        if size > limits.max_file_bytes:
            raise archive.file_too_large(path, size, limits.max_file_bytes)
        if path in seen:
            raise HTTPError(400, "BAD_REQUEST", f"'{path}' is listed twice")
        seen.add(path)
        total += size
        files.append(FileEntry(path, sha, size, mime.guess(path)))
    if total > limits.max_total_bytes:
        raise HTTPError(
            413, "DEPLOY_TOO_LARGE", f"{total} bytes; the limit is {limits.max_total_bytes}"
        )
    return files


# A blob sent in one PUT is held whole in memory to be hashed and stored: bigger files
# are streamed through the resumable upload (fazt.api.uploads).
PUT_BLOB_MAX_BYTES = 64 * 1024 * 1024


async def upload_blob(state: ServerState, req: Request, key: ApiKey, sha256: str) -> Response:
    """PUT /api/blobs/{sha256}: the body must hash to the name."""
    if not _SHA256.match(sha256):
        raise HTTPError(400, "BAD_REQUEST", "blob name must be a sha256 in lower-case hex")
    limit = min(state.limits.max_file_bytes, PUT_BLOB_MAX_BYTES)
    length = req.header("content-length") or ""
    if length.isdigit() and int(length) > limit:
        raise HTTPError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"a blob sent whole is at most {limit:,} bytes; send bigger files in pieces "
            "through /api/uploads (`fazt deploy` does)",
        )
    data = await req.body(limit)
    actual = await run_cpu(sha256_hex, data)
    if actual != sha256:
        raise HTTPError(400, "HASH_MISMATCH", f"the body hashes to {actual}, not {sha256}")
    created = await state.db.write(deployments.store_blob, sha256, data)
    return json_response({"sha256": sha256, "size": len(data)}, 201 if created else 200)


BATCH_MAX_BYTES = 32 * 1024 * 1024


async def upload_blob_batch(state: ServerState, req: Request, key: ApiKey) -> Response:
    """POST /api/blobs: many small blobs (see hosting/blobframes.py) in one transaction.
    Every frame is checked before anything is stored."""
    data = await req.body(BATCH_MAX_BYTES)
    try:
        blobs = await run_cpu(blobframes.decode, data)
    except blobframes.BadFrames as exc:
        raise HTTPError(400, exc.code, str(exc)) from None
    await state.db.write(deployments.store_blobs, blobs)
    return json_response({"stored": [sha for sha, _ in blobs]}, 201)


async def finalize_deployment(
    state: ServerState, req: Request, key: ApiKey, deployment_id: str
) -> Response:
    """POST /api/deployments/{id}/finalize {"preview": false}: verify and (maybe) go live."""
    body = await req.json() if (req.header("content-length") or "0") != "0" else {}
    preview = bool(body.get("preview")) if isinstance(body, dict) else False
    dep_id = _int_id(deployment_id)
    info = await state.db.read(_pending_owner, dep_id)
    if info is None or not owns(key, info["site"]):
        raise HTTPError(404, "DEPLOYMENT_NOT_FOUND", f"no deployment {deployment_id}")
    check_site_name(state, key, info["site"])
    raw_manifest = await state.db.read(_manifest_bytes, dep_id)
    manifest = _manifest_from(raw_manifest)
    info = await state.db.write(_finalize, dep_id, manifest.to_json(), not preview)
    return await _published(state, info)


def _finalize(conn, dep_id: int, manifest_json: str, live: bool) -> dict:
    # A finalized deployment is immutable: a repeated finalize only reads it.
    conn.execute(
        "UPDATE deployments SET manifest = ? WHERE id = ? AND state = 'pending'",
        (manifest_json, dep_id),
    )
    return deployments.finalize(conn, dep_id, live=live)


def _pending_owner(conn, dep_id: int) -> dict | None:
    row = conn.execute("SELECT site, state FROM deployments WHERE id = ?", (dep_id,)).fetchone()
    return dict(row) if row else None


def _manifest_bytes(conn, dep_id: int) -> bytes | None:
    row = deployments.lookup_file(conn, dep_id, "manifest.json")
    return deployments.read_blob(conn, row["sha256"]) if row else None


def _int_id(text: str) -> int:
    if not text.isdigit():
        raise HTTPError(400, "BAD_REQUEST", f"'{text}' is not a deployment id")
    return int(text)
