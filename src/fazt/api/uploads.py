"""Resumable uploads of one big file (the engine is fazt.hosting.uploads).

POST /api/uploads {site, sha256, size[, path]} -> the upload (new, or the one in progress
for that site and blob, to resume); PUT /api/uploads/{id} with Content-Range streams bytes
from the committed offset; GET/HEAD /api/uploads/{id} tells that offset (also in the
`upload-offset` header). The body is read in pieces: never more than one piece
(blob_chunks.CHUNK_BYTES) of it is in memory, and each piece is committed as it fills.

With the setting blob_cache_from_uploads, each piece is also written to a staging file in
the disk blob cache (fazt.hosting.blob_cache) while it is hashed, so a finished upload's
cache copy is there at once: the first viewer of a new 2 GB video does not wait for (or
compete with) a 2 GB copy out of SQLite. It is off by default: the extra write made a
1 GB deploy ~2 s of CPU slower (docs/benchmarks.md). The copy is kept only when this
process wrote and hashed every byte of it in order; after a restart (or a gap) the upload
finishes without it and the cache copies from SQLite on first use, as for any blob.
"""

import asyncio
import contextlib
import hashlib
import os
import re
from typing import Any

from fazt.api.access import owns
from fazt.api.deploy import ROOM_FACTOR, ROOM_MARGIN, check_site_name
from fazt.auth.tokens import ApiKey
from fazt.cpu import run_cpu
from fazt.db import disk
from fazt.hosting import archive, blob_chunks, blob_read, uploads
from fazt.state import ServerState
from fazt.web.content_range import BadContentRange, ContentRange, parse
from fazt.web.http import HTTPError, Request, Response, json_response

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Hash state of the uploads this worker is receiving: (offset it covers, sha256 object).
# Lost on a restart; then rebuilt from the committed pieces (_hasher).
_HASHERS: dict[int, tuple[int, Any]] = {}
_HASHERS_MAX = 256
_BUSY: set[int] = set()
# Bytes of each upload in its staging file, written in order by this process (-1: given up).
_STAGED: dict[int, int] = {}


async def start_upload(state: ServerState, req: Request, key: ApiKey) -> Response:
    body = await req.json()
    if not isinstance(body, dict):
        raise HTTPError(400, "BAD_REQUEST", 'expected {"site", "sha256", "size"}')
    site = check_site_name(state, key, str(body.get("site") or ""))
    sha, size, path = body.get("sha256"), body.get("size"), body.get("path")
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise HTTPError(400, "BAD_REQUEST", "sha256 must be 64 lower-case hex digits")
    if type(size) is not int or size < 0:
        raise HTTPError(400, "BAD_REQUEST", "size must be a whole number of bytes")
    name = path if isinstance(path, str) and path else f"blob {sha[:12]}"
    if size > state.limits.max_file_bytes:
        raise archive.file_too_large(name, size, state.limits.max_file_bytes)
    _check_room(state, size)
    found, created = await state.db.write(uploads.start, site, sha, size, key.name)
    return _answer(found, 201 if created else 200)


def _check_room(state: ServerState, remaining: int) -> None:
    """507 before accepting bytes the disk would not hold (twice: the WAL, then the file)."""
    refusal = disk.no_room(state.db.path, ROOM_FACTOR * remaining + ROOM_MARGIN)
    if refusal is not None:
        raise refusal


def _answer(upload: dict, status: int = 200) -> Response:
    response = json_response(upload, status)
    response.headers.append(("upload-offset", str(upload["offset"])))
    return response


async def _owned(state: ServerState, key: ApiKey, upload_id: str) -> dict:
    """The upload, or 404 (also for another site's: it looks absent)."""
    found = None
    if upload_id.isdigit() and len(upload_id) <= 18:  # an SQLite integer
        found = await state.db.read(uploads.row, int(upload_id))
    if found is None or not owns(key, found["site"]):
        raise HTTPError(404, "UPLOAD_NOT_FOUND", f"no upload {upload_id} (finished or expired)")
    return found


async def upload_status(state: ServerState, req: Request, key: ApiKey, upload_id: str) -> Response:
    return _answer(uploads.describe(await _owned(state, key, upload_id)))


async def upload_piece(state: ServerState, req: Request, key: ApiKey, upload_id: str) -> Response:
    """PUT /api/uploads/{id}: bytes from the committed offset (Content-Range)."""
    upload = await _owned(state, key, upload_id)
    if upload["received"] == upload["size"]:  # every byte is in (an answer was lost)
        return _answer(await _finish(state, upload))
    span = _span(req, upload)
    if span.start != upload["received"]:
        raise uploads.offset_mismatch(upload["received"], span.start)
    uid = upload["id"]
    if uid in _BUSY:
        raise HTTPError(409, "UPLOAD_BUSY", f"upload {uid} is receiving bytes in another request")
    _check_room(state, upload["size"] - upload["received"])
    _BUSY.add(uid)
    try:
        offset = await _receive(state, req, upload, span)
        if offset < upload["size"]:
            return _answer({**uploads.describe(upload), "offset": offset})
        done = await _finish(state, upload)
    finally:
        _BUSY.discard(uid)
    return _answer(done)


def _span(req: Request, upload: dict) -> ContentRange:
    """The request's Content-Range (the whole blob when absent), checked against the
    upload's declared size and the body's Content-Length."""
    size, header = upload["size"], req.header("content-range")
    try:
        span = parse(header) if header is not None else ContentRange(0, size, size)
    except BadContentRange as exc:
        raise HTTPError(400, "BAD_CONTENT_RANGE", str(exc)) from None
    if span.total is not None and span.total != size:
        raise HTTPError(
            400,
            "BAD_CONTENT_RANGE",
            f"Content-Range says the file is {span.total:,} bytes; this upload declared {size:,}",
        )
    if span.end > size:
        raise uploads.too_many_bytes(size)
    length = req.header("content-length")
    if length is not None and (not length.isdigit() or int(length) != span.length):
        raise HTTPError(
            400,
            "BAD_CONTENT_RANGE",
            f"Content-Length {length} does not match the {span.length:,} bytes of Content-Range",
        )
    return span


async def _receive(state: ServerState, req: Request, upload: dict, span: ContentRange) -> int:
    """Commit the body piece by piece; the committed offset when it ends."""
    uid = upload["id"]
    hasher = await _hasher(state, uid, span.start)
    pieces = _Pieces(state, uid, upload["size"], span.start, hasher)
    buffer, refused = _Buffer(), False
    try:
        async for data in req.stream():
            if pieces.next + buffer.size + len(data) > span.end:
                refused = True
                raise HTTPError(
                    413,
                    "UPLOAD_TOO_LARGE",
                    f"the body is longer than the {span.length:,} bytes its Content-Range "
                    f"declares; the upload keeps the whole pieces before the excess",
                )
            buffer.add(data)
            while buffer.size >= blob_chunks.CHUNK_BYTES:  # pieces of exactly one chunk
                await pieces.put(buffer.take(blob_chunks.CHUNK_BYTES))
    finally:
        # What arrived is committed even if the body stopped short (a dropped client):
        # it resumes after it. A refused body keeps only the whole pieces before it.
        if buffer.size and not refused:
            await pieces.put(buffer.take(buffer.size))
        committed = await pieces.drain()
    return committed


class _Buffer:
    """The body's bytes not yet in a piece, kept as received: a piece is joined from them
    in one copy (a bytearray cost three: append, slice, bytes, plus moving the rest)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def take(self, n: int) -> bytes:
        """The first `n` bytes (n <= size)."""
        taken, got = [], 0
        while got < n:
            part = self.parts.pop(0)
            if got + len(part) > n:  # split the last one; the rest stays first
                cut = n - got
                self.parts.insert(0, part[cut:])
                part = part[:cut]
            taken.append(part)
            got += len(part)
        self.size -= n
        return b"".join(taken)


class _Pieces:
    """Commits pieces in order, one in flight while the next one is received (so the
    network, the writer and the hashing overlap; two pieces in memory at most)."""

    def __init__(self, state: ServerState, uid: int, size: int, offset: int, hasher: Any) -> None:
        self.state, self.uid, self.size, self.hasher = state, uid, size, hasher
        self.next = self.committed = offset  # after the queued pieces / the stored ones
        self.task: asyncio.Future | None = None

    async def put(self, piece: bytes) -> None:
        await self.drain()
        start, self.next = self.next, self.next + len(piece)
        self.task = asyncio.ensure_future(
            _commit(self.state, (self.uid, self.size), start, self.hasher, piece)
        )

    async def drain(self) -> int:
        if self.task is not None:
            task, self.task = self.task, None
            self.committed = await task
        return self.committed


async def _commit(
    state: ServerState, upload: tuple[int, int], offset: int, hasher: Any, piece: bytes
) -> int:
    """Store one piece of upload (id, size) while hashing it and staging its cache copy
    (the writer and the CPU pool work side by side)."""
    uid, size = upload
    _HASHERS.pop(uid, None)  # until both are done, the cached state is not trusted
    stored, _, _ = await asyncio.gather(
        state.db.write(uploads.append, uid, offset, piece),
        run_cpu(hasher.update, piece),
        _stage(state, uid, size, offset, piece),
    )
    _remember(uid, stored, hasher)
    return stored


async def _stage(state: ServerState, uid: int, size: int, offset: int, piece: bytes) -> None:
    """Write the piece to the upload's staging file if it continues what this process
    wrote there; otherwise give the staged copy up (the cache fills from SQLite later)."""
    blobs = state.static.blobs
    if blobs is None or not blobs.from_uploads:
        return
    if offset == 0 and not await run_cpu(blobs.has_room, size):
        _STAGED[uid] = -1  # bigger than the cache, or the disk would fill
        return
    if offset != 0 and _STAGED.get(uid) != offset:
        _give_up(state, uid)
        return
    _STAGED[uid] = -1  # until this piece is written
    try:
        await run_cpu(_write_at, _staging(blobs, uid), offset, piece)
    except OSError:  # a full disk: the upload goes on, the copy comes from SQLite later
        _give_up(state, uid)
        return
    _STAGED[uid] = offset + len(piece)


def _staging(blobs: Any, uid: int) -> Any:
    # This process's own file: during a handover the other worker never writes it.
    return blobs.staging(f"upload-{os.getpid()}-{uid}")


def _write_at(path: Any, offset: int, piece: bytes) -> None:
    # Created only by the first piece: a file removed meanwhile (a new worker's start
    # clears temporary files) fails the next piece, never leaves a hole of zeros.
    flags = os.O_WRONLY | (os.O_CREAT | os.O_TRUNC if offset == 0 else 0)
    fd = os.open(path, flags, 0o600)
    try:
        view, at = memoryview(piece), 0
        while at < len(view):
            at += os.pwrite(fd, view[at:], offset + at)
    finally:
        os.close(fd)


def _give_up(state: ServerState, uid: int, *, forget: bool = False) -> None:
    """No staged copy for this upload (forget: nor any memory of it)."""
    if forget:
        _STAGED.pop(uid, None)
    else:
        _STAGED[uid] = -1
    if state.static.blobs is not None:
        with contextlib.suppress(OSError):
            os.unlink(_staging(state.static.blobs, uid))


def _keep_staged(state: ServerState, upload: dict) -> None:
    """A finished upload: its staged copy (every byte written and hashed by this
    process, the hash checked) becomes the blob's cache copy."""
    uid, blobs = upload["id"], state.static.blobs
    if blobs is None or _STAGED.get(uid) != upload["size"]:
        _give_up(state, uid, forget=True)
        return
    _STAGED.pop(uid)
    blobs.adopt(upload["sha256"], _staging(blobs, uid), upload["size"])


async def forget_staged(state: ServerState) -> None:
    """Remove the staging files of uploads that are gone (expired, discarded)."""
    for uid in list(_STAGED):
        if await state.db.read(uploads.row, uid) is None:
            _give_up(state, uid, forget=True)


def _remember(uid: int, offset: int, hasher: Any) -> None:
    if len(_HASHERS) >= _HASHERS_MAX:
        _HASHERS.pop(next(iter(_HASHERS)))
    _HASHERS[uid] = (offset, hasher)


async def _hasher(state: ServerState, uid: int, offset: int) -> Any:
    """The hash of the upload's first `offset` bytes: kept from the last request, else
    recomputed from the committed pieces (after a restart, or another worker's request)."""
    cached = _HASHERS.get(uid)
    if cached is not None and cached[0] == offset:
        return cached[1]
    hasher, done = hashlib.sha256(), 0
    while done < offset:
        stop = min(done + blob_chunks.CHUNK_BYTES, offset)
        piece = await state.db.read(_read_pieces, uid, done, stop)
        if len(piece) != stop - done:
            raise HTTPError(409, "UPLOAD_BUSY", f"upload {uid} changed while being read")
        await run_cpu(hasher.update, piece)
        done = stop
    _remember(uid, offset, hasher)
    return hasher


def _read_pieces(conn, uid: int, start: int, end: int) -> bytes:
    return b"".join(blob_read.chunk_range(conn, uid, start, end))


async def _finish(state: ServerState, upload: dict) -> dict:
    uid = upload["id"]
    hasher = await _hasher(state, uid, upload["size"])
    _HASHERS.pop(uid, None)
    done = await state.db.write(uploads.finish, uid, hasher.hexdigest())
    if done is not None:
        _keep_staged(state, upload)
    else:
        _give_up(state, uid, forget=True)
        raise HTTPError(
            400,
            "HASH_MISMATCH",
            f"the uploaded bytes do not hash to {upload['sha256']}; the upload is discarded "
            "(start it again)",
        )
    return done
