"""Resized image variants of a site's files: `GET /photo.jpg?w=640&format=webp`.

A variant is content-addressed by (source sha256, width, format): it is stored beside its
source in `blob_variants` (as `image:w640.webp`, next to the gzip/br text variants), so it
is computed once, survives restarts, and goes when its source blob is collected (ON
DELETE CASCADE). A small byte-bounded LRU in memory keeps the hot ones off SQLite, and
a second one keeps each served variant URL's whole answer for the server's hot path.

Cost control, since any visitor can ask: widths and formats come from a fixed set
(fazt.hosting.image_query); concurrent requests for one cold variant share one encode;
at most `image_encodes_at_once` encodes run at a time and a request waits at most
`image_queue_seconds` for its turn (then IMAGE_BUSY, 503), so a burst of cold variants
cannot take every core from the rest of the server.
"""

import asyncio
from dataclasses import dataclass

from fazt import cpu
from fazt.db import Database
from fazt.hosting import blob_read, deployments, image_query, ranges
from fazt.hosting.cache import ByteLRU
from fazt.hosting.image_query import VariantError, VariantSpec
from fazt.web.http import Request, Response

MEMORY_BYTES = 16 * 1024 * 1024
MAX_SOURCE_BYTES = 64 * 1024 * 1024  # a bigger file is not an image to resize on request
ORIGINAL = b""  # stored for an animated source: "serve the original"
# Headers of the source answer that the variant keeps (the ETag and type are its own).
KEPT_HEADERS = ("cache-control", "last-modified")


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = 50_000_000
    encodes_at_once: int = 2
    queue_seconds: float = 10.0

    @classmethod
    def from_settings(cls, values: dict[str, str]) -> "ImageLimits":
        try:
            return cls(
                int(values.get("image_max_pixels") or cls.max_pixels),
                int(values.get("image_encodes_at_once") or cls.encodes_at_once),
                float(values.get("image_queue_seconds") or cls.queue_seconds),
            )
        except ValueError:  # a bad row written by SQL: the defaults
            return cls()


class ImageVariants:
    """The variants of one server: cache, per-key sharing, and the encode limit."""

    def __init__(self, db: Database, limits: ImageLimits) -> None:
        self.db, self.limits = db, limits
        self.memory = ByteLRU(MEMORY_BYTES)  # by (source sha256, variant name)
        self.answers = ByteLRU(MEMORY_BYTES)  # whole answers by URL (the bytes are shared)
        self._formats: tuple[str, ...] | None = None
        self._slots = asyncio.Semaphore(limits.encodes_at_once)
        self._inflight: dict[tuple[str, str], asyncio.Future[tuple[bytes, bool]]] = {}

    @property
    def formats(self) -> tuple[str, ...]:
        """The output formats, found at the first variant asked for (it loads Pillow)."""
        if self._formats is None:
            self._formats = _pillow().supported_formats()
        return self._formats

    def spec_for(self, req: Request, mime: str) -> VariantSpec | None:
        """The variant a request for a file of type `mime` asks for (None: the file)."""
        if mime not in image_query.SOURCE_TYPES or not image_query.asks_variant(
            req.scope.query_string
        ):
            return None
        return image_query.parse(req.query, self.formats)

    def answer(self, *key: object) -> tuple[list, bytes] | None:
        """The prebuilt 200 answer (headers, body) to a variant URL served before, keyed
        (site, deployment id, path, query string): the hot path, no other work."""
        return self.answers.get(key)

    async def respond(
        self,
        req: Request,
        sha256: str,
        mime: str,
        spec: VariantSpec,
        source_headers: list,
        answer_key: tuple,
    ) -> Response | None:
        """The variant's answer; None when the original should be served instead."""
        negotiated = spec.format == image_query.AUTO
        spec = spec.resolved(req.header("accept"))
        fmt = spec.target_format(mime)
        name = spec.key(mime)
        etag = f'"{sha256[:40]}-{name.removeprefix("image:")}"'
        headers = [(k, v) for k, v in source_headers if k in KEPT_HEADERS]
        headers.append(("etag", etag))
        if negotiated:  # caches must keep one answer per Accept
            headers.append(("vary", "Accept"))
        if _matches(req.header("if-none-match"), etag):
            return Response(304, None, headers)
        data, how = await self.get(sha256, name, spec.width, fmt)
        if data == ORIGINAL:
            return None
        content_type = _pillow().mime_of(fmt)
        headers += [("content-type", content_type), ("accept-ranges", "bytes")]
        # Deployments never change, so neither does this URL's answer (unless it depends
        # on Accept, which the hot path does not look at).
        if not negotiated:
            self.answers.put(answer_key, ([*headers, ("x-fazt-variant", "hit")], data), len(data))
        partial = ranges.ranged_bytes(
            req.header("range"),
            req.header("if-range"),
            data,
            etag,
            _header(headers, "last-modified"),
            content_type,
        )
        if partial is not None:  # like the original's Range/If-Range (hosting.static)
            status, body, extra = partial
            if extra[0][0] == "content-type":  # multipart: the parts carry the image's
                headers = [h for h in headers if h[0] != "content-type"]
            return Response(status, body, [*headers, *extra, ("x-fazt-variant", how)])
        return Response(200, data, [*headers, ("x-fazt-variant", how)])

    async def get(self, sha256: str, name: str, width: int | None, fmt: str) -> tuple[bytes, str]:
        """The variant's bytes and how they were found: `hit` (memory, the database, or
        another request's encode) or `miss` (this request encoded them)."""
        key = (sha256, name)
        data = self.memory.get(key)
        if data is not None:
            return data, "hit"
        task = self._inflight.get(key)
        if task is not None:  # someone is producing it: wait for theirs
            return (await asyncio.shield(task))[0], "hit"
        task = asyncio.ensure_future(self._produce(sha256, name, width, fmt))
        self._inflight[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: a visitor who disconnects does not cancel the encode others wait on.
        data, encoded = await asyncio.shield(task)
        return data, "miss" if encoded else "hit"

    def _finished(self, key: tuple[str, str], task: asyncio.Future) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone (no "never retrieved")

    async def _produce(
        self, sha256: str, name: str, width: int | None, fmt: str
    ) -> tuple[bytes, bool]:
        """The variant from the database, or encoded now (then stored); whether encoded."""
        data = await self.db.read(deployments.read_variant, sha256, name)
        encoded = data is None
        if encoded:
            data = await self._encode(sha256, width, fmt)
            # Persisted off the request path; a restart finds it in the database.
            self.db.submit_write(deployments.store_variant, sha256, name, data)
        self.memory.put((sha256, name), data, len(data))
        return data, encoded

    async def _encode(self, sha256: str, width: int | None, fmt: str) -> bytes:
        try:
            async with asyncio.timeout(self.limits.queue_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise VariantError(
                "IMAGE_BUSY", "too many images are being resized; try again shortly"
            ) from None
        try:
            size = await self.db.read(blob_read.blob_size, sha256)
            if size is None:
                raise VariantError("IMAGE_UNREADABLE", "the image is no longer stored")
            if size > MAX_SOURCE_BYTES:
                raise VariantError(
                    "IMAGE_TOO_LARGE", f"images above {MAX_SOURCE_BYTES} bytes are not resized"
                )
            source = await self.db.read(blob_read.read_blob, sha256) or b""
            rendered = await cpu.run_cpu(
                _pillow().render, source, width, fmt, self.limits.max_pixels
            )
        finally:
            self._slots.release()
        return ORIGINAL if rendered is None else rendered


def _header(headers: list, name: str) -> str | None:
    return next((v for k, v in headers if k == name), None)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _pillow():
    """fazt.hosting.image_render, imported at the first variant asked for: Pillow and its
    codecs' libraries are ~3 MB that an idle worker never uses (issue 22)."""
    from fazt.hosting import image_render

    return image_render
