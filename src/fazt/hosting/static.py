"""Serving a deployment's files: clean URLs, 404 pages, SPA fallback, conditional and
range requests, compression, with a byte-bounded cache in front of SQLite.

The hot path (a cached file) runs entirely on the event loop with no SQLite access. A cache
miss resolves the file in a reader thread, including its compressed variants.
"""

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fazt.analytics.script import inject
from fazt.db import Database
from fazt.hosting import blob_read, compression, deployments, mime
from fazt.hosting.cache import ByteLRU
from fazt.hosting.footprint import deep_size, share
from fazt.hosting.manifest import Manifest, parse
from fazt.hosting.names import SYSTEM_SITES
from fazt.hosting.paths import is_server_only, request_candidates
from fazt.hosting.seeding import SYSTEM_DEPLOYER
from fazt.web.http import Request, Response

STREAM_CHUNK = 256 * 1024


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
    # Bytes this entry really holds (bodies, variants, headers, the object itself), measured
    # once when built, in the reader thread: ~65 us for a text file, kept off the loop.
    cost: int = 0


class StaticServer:
    def __init__(self, db: Database, cache_bytes: int) -> None:
        self.db = db
        self.cache = ByteLRU(cache_bytes)
        self.max_cached_file = min(8 * 1024 * 1024, cache_bytes // 4)

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
            self.cache.put(key, found, deep_size(key) + found.cost)
        return found

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
        # Header pairs many files have in common are held once (share), not once per entry.
        cache_control = manifest.cache_control(row["path"], mime.is_html(file_mime))
        headers = [
            share(("content-type", file_mime)),
            share(("last-modified", format_datetime(modified, usegmt=True))),
            share(("cache-control", cache_control)),
            share(("accept-ranges", "bytes")),
        ]
        body, variants = None, {}
        if size <= self.max_cached_file:
            body = deployments.read_blob(conn, sha) or b""
            tracked = inject(body) if track and mime.is_html(file_mime) else None
            if tracked is not None:
                # The script tag is part of the page as served, built once per cache fill:
                # its own hash (so the ETag differs from the bare file) and variants.
                body, size, sha = tracked, len(tracked), hashlib.sha256(tracked).hexdigest()
                variants = compression.compress(body)
                headers.append(share(("vary", "Accept-Encoding")))
            elif mime.is_compressible(file_mime):
                variants = self._variants(conn, sha, body)
                headers.append(share(("vary", "Accept-Encoding")))
        variants = {share(enc): data for enc, data in variants.items()}
        found = StaticFile(
            status, sha, size, share(file_mime), f'"{sha[:40]}"', headers, body, variants, modified
        )
        if body is not None:
            found.full[None] = ([*headers, (share("etag"), found.etag)], body)
            for enc, data in variants.items():
                extra = [(share("etag"), _etag(sha, enc)), share(("content-encoding", enc))]
                found.full[enc] = ([*headers, *extra], data)
        found.cost = deep_size(found)
        return found

    def _variants(self, conn: sqlite3.Connection, sha: str, body: bytes) -> dict[str, bytes]:
        stored = {
            enc: data
            for enc in compression.ENCODINGS
            if (data := deployments.read_variant(conn, sha, enc)) is not None
        }
        if stored:
            return stored
        computed = compression.compress(body)
        for enc, data in computed.items():
            # Persisted off the request path: the next start need not compress again.
            self.db.submit_write(deployments.store_variant, sha, enc, data)
        return computed

    def read_range(self, conn: sqlite3.Connection, sha: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of a blob, without loading the rest (runs in a thread)."""
        # b"" when the site was deleted mid-download
        return b"".join(blob_read.iter_blob(conn, sha, start, end))


# Marker for "the deployment exists but has neither the file nor a 404.html".
_MISSING = StaticFile(404, "", 0, "", "", [], b"")


def is_missing(found: StaticFile) -> bool:
    return found is _MISSING


def file_response(server: StaticServer, req: Request, found: StaticFile) -> Response:
    """The answer to GET/HEAD for a resolved file: 304, 206, compressed or plain."""
    etag = found.etag
    # A range request gets the identity bytes (like nginx), so partial fetches of text
    # files work even though browsers always accept compression.
    encoding = None
    if not req.header("range"):
        encoding = compression.preferred(req.header("accept-encoding"), found.variants)
    if encoding:
        etag = _etag(found.sha256, encoding)
    if found.status == 200 and _not_modified(req, found, etag):
        headers = [("etag", etag), *[h for h in found.headers if h[0] != "content-type"]]
        return Response(304, None, headers)
    if encoding:
        headers, body = found.full[encoding]
        return Response(found.status, body, headers)
    headers = [*found.headers, ("etag", etag)]
    byte_range = _range(req, found, etag) if found.status == 200 else None
    if byte_range == "unsatisfiable":
        return Response(416, None, [("content-range", f"bytes */{found.size}"), *headers])
    start, end, status = 0, found.size, found.status
    if byte_range:
        start, end = byte_range
        status = 206
        headers.append(("content-range", f"bytes {start}-{end - 1}/{found.size}"))
    if found.body is not None:
        return Response(status, found.body[start:end], headers)
    headers.append(("content-length", str(end - start)))
    # Large files are streamed chunk by chunk: memory stays flat whatever their size.
    return Response(status, headers=headers, stream=_chunks(server, found.sha256, start, end))


async def _chunks(server: StaticServer, sha256: str, start: int, end: int) -> AsyncIterator[bytes]:
    for offset in range(start, end, STREAM_CHUNK):
        stop = min(offset + STREAM_CHUNK, end)
        chunk = await server.db.read(server.read_range, sha256, offset, stop)
        if not chunk:
            return
        yield chunk


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
        try:
            return found.last_modified <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def _range(req: Any, found: StaticFile, etag: str) -> tuple[int, int] | str | None:
    """(start, end) for a single satisfiable byte range; 'unsatisfiable'; or None."""
    header = req.header("range")
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    if_range = req.header("if-range")
    if if_range and if_range.strip() != etag:
        return None
    first, _, last = header[6:].strip().partition("-")
    size = found.size
    try:
        if first == "":
            length = int(last)
            if length <= 0 or size == 0:
                return "unsatisfiable"
            return max(0, size - length), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size or start < 0 or end <= start:
        return "unsatisfiable"
    return start, min(end, size)
