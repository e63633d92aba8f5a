"""Serving a deployment's files: clean URLs, 404 pages, SPA fallback, conditional and
range requests, compression, with a byte-bounded cache in front of SQLite.

The hot path (a cached file) runs entirely on the event loop with no SQLite access. A cache
miss resolves the file in a reader thread, including its compressed variants.

Where the bytes come from (docs/decisions/008-blob-serving.md): files smaller than
`blob_cache_min_bytes` are kept in memory with prebuilt answers; bigger ones (and their
compressed variants) are sent from the verified disk copy of fazt.hosting.blob_cache by
Granian's file response, so memory only holds their headers. A big file is streamed
from SQLite while its disk copy is being made, and when the disk cache is off.
"""

import asyncio
import hashlib
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fazt.analytics.script import inject
from fazt.cpu import run_cpu
from fazt.db import Database
from fazt.hosting import blob_fetch, blob_read, compression, deployments, mime, ranges
from fazt.hosting.blob_cache import BlobCache, variant_name
from fazt.hosting.cache import ByteLRU
from fazt.hosting.footprint import deep_size, share
from fazt.hosting.manifest import Manifest, parse
from fazt.hosting.names import SYSTEM_SITES
from fazt.hosting.paths import is_server_only, request_candidates
from fazt.hosting.seeding import SYSTEM_DEPLOYER
from fazt.web.http import Request, Response

STREAM_CHUNK = 1024 * 1024
# A file up to this size gets its disk copy before it is answered (a few ms); a bigger one
# is streamed from SQLite to its first readers while the copy is made in the background.
WAIT_FOR_COPY_BYTES = 16 * 1024 * 1024
# A disk-served file up to this size is read into memory per request and sent as bytes:
# Granian's file response costs ~200 us of CPU per answer more (2 KB: 96-146 us against
# 26-28 us for an os.pread; 180 KB: 270-295 against 112-117; equal at 1 MiB), which is
# what held a whole site at random paths to 0.38x nginx. Bigger files go by path.
READ_WHOLE_MAX = 512 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"
# A content hash in a file name (`app.3f9a1c2b.js`, `index-3f9a1c2b.css`): 8+ hex digits
# with both a letter and a digit, so that dates (`report-20240101.pdf`) and words
# (`deadbeef.js`) are not taken for one. Such names change whenever the content does.
_HASHED_NAME = re.compile(r"[.-](?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{8,64}\.[A-Za-z0-9]+$")


@dataclass(slots=True)  # no per-object __dict__: thousands of these sit in the cache
class StaticFile:
    status: int
    sha256: str
    size: int
    mime: str
    etag: str
    headers: list[tuple[str, str]]  # content-type, last-modified, cache-control, ...
    body: bytes | None  # None: too large to cache, streamed from SQLite
    variants: dict[str, bytes] = field(default_factory=dict)
    last_modified: datetime | None = None
    # Complete 200/404 answers, headers prebuilt, by content-encoding (None: identity).
    full: dict[str | None, tuple[list[tuple[str, str]], bytes]] = field(default_factory=dict)
    # Served from the disk blob cache (body None): its variants' sizes by encoding, and the
    # headers of a complete answer by encoding (None: identity), content-length included.
    on_disk: bool = False
    persist_variants: bool = True  # False: the page as served is not the stored blob
    compress_pending: bool = False  # variants not computed yet (see StaticServer.compress)
    key: tuple | None = None  # its key in the memory cache
    disk_variants: dict[str, int] = field(default_factory=dict)
    disk_full: dict[str | None, list[tuple[str, str]]] = field(default_factory=dict)
    # Bytes this entry really holds (bodies, variants, headers, the object itself), measured
    # when built (in the reader thread: ~65 us for a text file) and when it changes.
    cost: int = 0


class StaticServer:
    def __init__(
        self,
        db: Database,
        cache_bytes: int,
        blobs: BlobCache | None = None,
        disk_min_bytes: int = 0,
    ) -> None:
        self.db = db
        self.cache = ByteLRU(cache_bytes)
        self.max_cached_file = min(8 * 1024 * 1024, cache_bytes // 4)
        self.blobs = blobs  # None: the disk cache is off, big files stream from SQLite
        self.disk_min_bytes = disk_min_bytes
        self._copies: set[asyncio.Future] = set()  # background disk copies of big files

    def forget(self, deployments: set[tuple[str, int]]) -> int:
        """Drop the cached files of these (site, deployment) pairs: a site's previous live
        deployment after a deploy, which would otherwise fill the cache until evicted."""
        return self.cache.drop(lambda key: (key[0], key[1]) in deployments)

    def cached(self, site: str, deployment_id: int, path: str) -> StaticFile | None:
        """The cached answer for a plain request, if any (no I/O: the hot path)."""
        return self.cache.get((site, deployment_id, path, None))

    async def lookup(
        self, site: str, deployment_id: int, path: str, force_status: int | None = None
    ) -> StaticFile | None:
        """The file answering `path` in this deployment (or its 404 page); None if the
        deployment does not belong to the site or is not ready."""
        key = (site, deployment_id, path, force_status)  # the site: ids are checked against it
        found = self.cache.get(key)
        if found is None:
            found = await self.db.read(self._resolve, site, deployment_id, path, force_status)
            if found is None:
                return None
            if found.on_disk:
                await self._to_disk(found)
                found.cost = deep_size(found)  # headers only now: small
            found.key = key
            self.cache.put(key, found, deep_size(key) + found.cost)
        return found

    def hot_file(
        self, found: StaticFile, accept_encoding: str | None
    ) -> tuple[list, bytes | str] | None:
        """(headers, body) of a complete answer from the disk cache, when the copy is there
        and unchanged (no I/O but that file's: the hot path); None otherwise."""
        if self.blobs is None or not found.disk_full:
            return None
        if found.compress_pending and accept_encoding:
            return None  # compressed first (file_response)
        encoding = compression.preferred(accept_encoding, found.disk_variants)
        return self.disk_answer(found, encoding)

    def disk_answer(
        self, found: StaticFile, encoding: str | None
    ) -> tuple[list, bytes | str] | None:
        """(headers, body) of a complete answer from the disk copy of a file (or of one of
        its variants): its bytes when small (READ_WHOLE_MAX), else its path with the
        content-length; None if the copy is not there."""
        assert self.blobs is not None
        name = variant_name(found.sha256, encoding)
        headers = found.disk_full[encoding]
        size = found.size if encoding is None else found.disk_variants[encoding]
        if size <= READ_WHOLE_MAX:
            data = self.blobs.read(name)
            return None if data is None else (headers, data)
        path = self.blobs.get(name)
        return None if path is None else ([*headers, ("content-length", str(size))], path)

    async def _to_disk(self, found: StaticFile) -> None:
        """Write a disk-served file's compressed variants to the disk cache (_resolve loaded
        them), copy the file itself if it is small enough to wait for, and prebuild the
        headers of its complete answers."""
        assert self.blobs is not None
        for enc, data in found.variants.items():
            if await self.blobs.store(variant_name(found.sha256, enc), data) is not None:
                found.disk_variants[enc] = len(data)
        found.variants = {}  # memory holds headers only
        await self.disk_path(found, None)
        # Without content-length: Granian sets it for bytes; disk_answer adds it for a path.
        found.disk_full[None] = [*found.headers, (share("etag"), found.etag)]
        for enc in found.disk_variants:
            extra = [(share("etag"), _etag(found.sha256, enc)), share(("content-encoding", enc))]
            found.disk_full[enc] = [*found.headers, *extra]

    async def disk_path(self, found: StaticFile, encoding: str | None) -> str | None:
        """The disk copy of this file (or of one of its variants), made now if it is small
        enough to wait for; None: not (yet) on disk, stream it from SQLite."""
        if self.blobs is None:
            return None
        name = variant_name(found.sha256, encoding)
        path = self.blobs.get(name)
        if path is not None:
            return path
        if encoding is not None:
            data = await self.db.read(deployments.read_variant, found.sha256, encoding)
            return None if data is None else await self.blobs.store(name, data)
        copy = self._copier(found.sha256)
        if found.size <= WAIT_FOR_COPY_BYTES:
            return await self.blobs.fill(name, found.size, copy)
        if not self.blobs.filling(name):  # copied in the background; this request streams
            task = asyncio.ensure_future(self.blobs.fill(name, found.size, copy))
            self._copies.add(task)
            task.add_done_callback(self._copies.discard)
        return None

    def _copier(self, sha256: str) -> Callable[[Path], Awaitable[str]]:
        async def copy(tmp: Path) -> str:
            remote = await self.db.read(blob_fetch.offloaded, sha256)
            if remote is not None:  # in the bucket: fetched without holding a reader
                return await blob_fetch.copy(remote[0], sha256, remote[1], tmp)
            return await self.db.read(copy_blob, sha256, tmp)

        return copy

    def _resolve(
        self,
        conn: sqlite3.Connection,
        site: str,
        deployment_id: int,
        path: str,
        force_status: int | None,
    ) -> StaticFile | None:
        dep = conn.execute(
            "SELECT manifest, finalized_at, deployed_by FROM deployments "
            "WHERE id = ? AND site = ? AND state = 'ready'",
            (deployment_id, site),
        ).fetchone()
        if dep is None:
            return None
        manifest = parse(dep["manifest"])
        row = None
        for candidate in request_candidates(path):
            if is_server_only(candidate):  # server-side code is never a file, by any spelling
                continue
            row = deployments.lookup_file(conn, deployment_id, candidate)
            if row is not None:
                break
        status = 200
        if row is None and manifest.spa and "." not in path.rsplit("/", 1)[-1]:
            row = deployments.lookup_file(conn, deployment_id, "index.html")
        if row is None:
            row, status = deployments.lookup_file(conn, deployment_id, "404.html"), 404
        if row is None:
            return _MISSING
        # User sites' HTML pages get the analytics script, unless manifest.json opts out.
        user_site = site not in SYSTEM_SITES or (
            site == "root" and dep["deployed_by"] != SYSTEM_DEPLOYER
        )
        track = manifest.analytics and user_site
        return self._load(conn, row, manifest, dep["finalized_at"], force_status or status, track)

    def _load(
        self,
        conn: sqlite3.Connection,
        row: sqlite3.Row,
        manifest: Manifest,
        finalized_at: str,
        status: int,
        track: bool = False,
    ) -> StaticFile:
        sha, size, file_mime = row["sha256"], row["size"], row["mime"]
        modified = datetime.fromisoformat(finalized_at.replace("Z", "+00:00")).replace(
            microsecond=0
        )
        # Imported at the first file served: the email package is ~0.5 MB of an idle worker.
        from email.utils import format_datetime

        # Header pairs many files have in common are held once (share), not once per entry.
        headers = [
            share(("content-type", file_mime)),
            share(("last-modified", format_datetime(modified, usegmt=True))),
            share(("cache-control", cache_control(manifest, row["path"], file_mime))),
            share(("accept-ranges", "bytes")),
        ]
        body, variants, persist = None, {}, True
        tracking = track and mime.is_html(file_mime)
        # Pages that get the analytics script differ from the stored blob: kept in memory.
        on_disk = self.blobs is not None and size >= self.disk_min_bytes and not tracking
        # Variants of a file held in memory or on disk (one streamed from SQLite has none).
        compressible = (
            mime.is_compressible(file_mime)
            and size <= compression.MAX_BYTES
            and (on_disk or size <= self.max_cached_file)
        )
        if compressible:
            headers.append(share(("vary", "Accept-Encoding")))
        if on_disk or size <= self.max_cached_file:
            body = None if on_disk else blob_read.read_blob(conn, sha) or b""
            tracked = inject(body) if tracking and body is not None else None
            if tracked is not None:
                # The script tag is part of the page as served, built once per cache fill:
                # its own hash (so the ETag differs from the bare file) and variants.
                body, size, sha = tracked, len(tracked), hashlib.sha256(tracked).hexdigest()
                persist = False
            elif compressible:
                variants = _stored_variants(conn, sha)
        variants = {share(enc): data for enc, data in variants.items()}
        found = StaticFile(
            status, sha, size, share(file_mime), f'"{sha[:40]}"', headers, body, variants, modified
        )
        found.on_disk, found.persist_variants = on_disk, persist
        # Compressed on the first request that asks for it (not on every miss: most
        # clients of a big site's rarely read pages may never ask).
        found.compress_pending = compressible and not variants and size >= compression.MIN_BYTES
        if body is not None:
            _prebuild(found)
        found.cost = deep_size(found)
        return found

    async def compress(self, found: StaticFile) -> None:
        """Compute a file's compressed variants (a client asked for them), keep them with
        the cached entry (in memory or on disk) and store them for later starts."""
        found.compress_pending = False  # meanwhile, other requests get the identity bytes
        body = found.body
        if body is None:
            path = await self.disk_path(found, None)
            if path is not None:
                body = await run_cpu(Path(path).read_bytes)
            else:
                body = await self.db.read(blob_read.read_blob, found.sha256) or b""
        variants = await run_cpu(compression.compress, body)
        found.variants = {share(enc): data for enc, data in variants.items()}
        if found.persist_variants:
            for enc, data in found.variants.items():
                # Off the request path: the next start need not compress again.
                self.db.submit_write(deployments.store_variant, found.sha256, enc, data)
        if found.on_disk:
            await self._to_disk(found)
        else:
            _prebuild(found)
        found.cost = await run_cpu(deep_size, found)  # it grew
        if found.key is not None and self.cache.get(found.key) is found:
            self.cache.put(found.key, found, deep_size(found.key) + found.cost)


def _stored_variants(conn: sqlite3.Connection, sha: str) -> dict[str, bytes]:
    return {
        enc: data
        for enc in compression.ENCODINGS
        if (data := deployments.read_variant(conn, sha, enc)) is not None
    }


def _prebuild(found: StaticFile) -> None:
    """The complete answers of a file held in memory, by content-encoding."""
    assert found.body is not None
    found.full[None] = ([*found.headers, (share("etag"), found.etag)], found.body)
    for enc, data in found.variants.items():
        extra = [(share("etag"), _etag(found.sha256, enc)), share(("content-encoding", enc))]
        found.full[enc] = ([*found.headers, *extra], data)


def copy_blob(conn: sqlite3.Connection, sha256: str, path: Path) -> str:
    """Write a blob to `path`; its sha256, or "" if it is not stored. One reader call with
    one BLOB handle: reading a big blob in separate calls makes SQLite walk its chain of
    overflow pages from the start each time (quadratic: 900 MiB took 9 minutes)."""
    if blob_read.blob_size(conn, sha256) is None:
        return ""
    hasher = hashlib.sha256()
    with open(path, "wb") as out:
        for chunk in blob_read.iter_blob(conn, sha256):
            out.write(chunk)
            hasher.update(chunk)
    return hasher.hexdigest()


def read_part(conn: sqlite3.Connection, sha256: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of a blob (runs in a reader thread)."""
    return b"".join(blob_read.iter_blob(conn, sha256, start, end))


# Marker for "the deployment exists but has neither the file nor a 404.html".
_MISSING = StaticFile(404, "", 0, "", "", [], b"")


def is_missing(found: StaticFile) -> bool:
    return found is _MISSING


def cache_control(manifest: Manifest, path: str, file_mime: str) -> str:
    """The manifest's rule for the path; else a year, `immutable`, for an asset whose name
    carries its content's hash; else the defaults (HTML is revalidated)."""
    rule = manifest.cache_rule(path)
    if rule is not None:
        return rule
    html = mime.is_html(file_mime)
    if not html and _HASHED_NAME.search(path):
        return IMMUTABLE
    return manifest.cache_control(path, html)


async def file_response(server: StaticServer, req: Request, found: StaticFile) -> Response:
    """The answer to GET/HEAD for a resolved file: 304, 206, compressed or plain."""
    range_header = req.header("range") if found.status == 200 else None
    accept = req.header("accept-encoding")
    if found.compress_pending and not range_header and compression.preferred(accept, _ANY):
        await server.compress(found)
    encoding = None
    # A range request gets the identity bytes (like nginx), so partial fetches of text
    # files work even though browsers always accept compression.
    if not range_header:
        available = found.disk_variants if found.on_disk else found.variants
        encoding = compression.preferred(accept, available)
    etag = _etag(found.sha256, encoding) if encoding else found.etag
    if found.status == 200 and _not_modified(req, found, etag):
        headers = [("etag", etag), *[h for h in found.headers if h[0] != "content-type"]]
        return Response(304, None, headers)
    if encoding:
        if found.body is not None:
            headers, body = found.full[encoding]
            return Response(found.status, body, headers)
        if await server.disk_path(found, encoding) is not None:
            answer = server.disk_answer(found, encoding)
            if answer is not None:
                headers, body = answer
                if isinstance(body, bytes):
                    return Response(found.status, body, headers)
                return Response(found.status, headers=headers, file=body)
        # The variant could not be put on disk: the identity bytes below.
    headers = [*found.headers, ("etag", found.etag)]
    wanted = None
    if range_header and ranges.if_range_allows(
        req.header("if-range"), found.etag, found.last_modified
    ):
        wanted = ranges.parse(range_header, found.size)
    if wanted == ranges.UNSATISFIABLE:
        return Response(416, None, [("content-range", f"bytes */{found.size}"), *headers])
    path = None
    if found.body is None:
        path = await server.disk_path(found, None)
    if wanted is None:
        return _whole(server, found, headers, path)
    if len(wanted) == 1:
        return _single(server, found, headers, path, *wanted[0])
    return _multipart(server, found, headers, path, wanted)


def _whole(server: StaticServer, found: StaticFile, headers: list, path: str | None) -> Response:
    if found.body is not None:
        return Response(found.status, found.body, headers)
    headers.append(("content-length", str(found.size)))
    if path is not None:
        return Response(found.status, headers=headers, file=path)
    # Streamed chunk by chunk: memory stays flat whatever the size.
    stream = _blob_chunks(server, found.sha256, 0, found.size)
    return Response(found.status, headers=headers, stream=stream)


def _single(
    server: StaticServer, found: StaticFile, headers: list, path: str | None, start: int, end: int
) -> Response:
    headers.append(("content-range", f"bytes {start}-{end - 1}/{found.size}"))
    if found.body is not None:
        return Response(206, found.body[start:end], headers)
    headers.append(("content-length", str(end - start)))
    if path is not None:
        return Response(206, headers=headers, file=path, file_range=(start, end))
    return Response(206, headers=headers, stream=_blob_chunks(server, found.sha256, start, end))


def _multipart(
    server: StaticServer, found: StaticFile, headers: list, path: str | None, wanted: list
) -> Response:
    """Several ranges: one `multipart/byteranges` body (RFC 9110 §14.6)."""
    boundary = ranges.new_boundary()
    heads, tail, length = ranges.multipart_heads(wanted, found.size, found.mime, boundary)
    headers = [h for h in headers if h[0] != "content-type"]
    headers.append(("content-type", f"multipart/byteranges; boundary={boundary}"))
    if found.body is not None:
        body = b"".join(h + found.body[s:e] for h, (s, e) in zip(heads, wanted, strict=True))
        return Response(206, body + tail, headers)
    headers.append(("content-length", str(length)))
    return Response(206, headers=headers, stream=_parts(server, found, path, heads, wanted, tail))


async def _parts(
    server: StaticServer,
    found: StaticFile,
    path: str | None,
    heads: list[bytes],
    wanted: list[tuple[int, int]],
    tail: bytes,
) -> AsyncIterator[bytes]:
    for head, (start, end) in zip(heads, wanted, strict=True):
        yield head
        if path is not None:
            chunks = _file_chunks(path, start, end)
        else:
            chunks = _blob_chunks(server, found.sha256, start, end)
        async for chunk in chunks:
            yield chunk
    yield tail


async def _blob_chunks(
    server: StaticServer, sha256: str, start: int, end: int
) -> AsyncIterator[bytes]:
    remote = await server.db.read(blob_fetch.offloaded, sha256)
    if remote is not None:  # in the bucket: one GET, no reader held
        store, size = remote
        async for chunk in blob_fetch.stream(store, sha256, size, start, end, STREAM_CHUNK):
            yield chunk
        return
    for offset in range(start, end, STREAM_CHUNK):
        stop = min(offset + STREAM_CHUNK, end)
        chunk = await server.db.read(read_part, sha256, offset, stop)
        if not chunk:
            return  # the site was deleted mid-download
        yield chunk


async def _file_chunks(path: str, start: int, end: int) -> AsyncIterator[bytes]:
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset in range(start, end, STREAM_CHUNK):
            chunk = await run_cpu(os.pread, fd, min(STREAM_CHUNK, end - offset), offset)
            if not chunk:
                return
            yield chunk
    finally:
        os.close(fd)


_ANY = dict.fromkeys(compression.ENCODINGS)


def _etag(sha256: str, encoding: str) -> str:
    return f'"{sha256[:40]}-{encoding}"'


def _not_modified(req: Any, found: StaticFile, etag: str) -> bool:
    inm = req.header("if-none-match")
    if inm is not None:
        if inm.strip() == "*":
            return True
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return etag in tags or found.etag in tags
    ims = req.header("if-modified-since")
    if ims and found.last_modified is not None:
        from email.utils import parsedate_to_datetime  # on use (idle memory, issue 22)

        try:
            return found.last_modified <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False
