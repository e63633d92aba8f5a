"""A fixed MIME table, so serving does not depend on the host's /etc/mime.types."""

import posixpath

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "text/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".bmp": "image/bmp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
}
DEFAULT = "application/octet-stream"

_COMPRESSIBLE_PREFIXES = (
    "text/",
    "application/json",
    "application/manifest+json",
    "image/svg+xml",
    "application/wasm",
    "application/xml",
)


def guess(path: str) -> str:
    return TYPES.get(posixpath.splitext(path)[1].lower(), DEFAULT)


def is_compressible(mime: str) -> bool:
    return mime.startswith(_COMPRESSIBLE_PREFIXES)


def is_html(mime: str) -> bool:
    return mime.startswith("text/html")
