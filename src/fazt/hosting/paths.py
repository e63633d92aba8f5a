"""What a file path inside a deployment may look like."""

import posixpath
import re
import unicodedata

MAX_PATH_LENGTH = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafePath(ValueError):
    pass


def validate_path(path: str) -> str:
    """Return a deployment path (relative, forward slashes) or raise UnsafePath."""
    if not path or len(path) > MAX_PATH_LENGTH:
        raise UnsafePath(f"path must be 1-{MAX_PATH_LENGTH} characters: {path[:80]!r}")
    if "\x00" in path or any(ord(c) < 32 for c in path):
        raise UnsafePath(f"path contains a control character: {path!r}")
    if "\\" in path:
        raise UnsafePath(f"path contains a backslash: {path!r}")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise UnsafePath(f"absolute path: {path!r}")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(f"path must not contain empty, '.' or '..' segments: {path!r}")
    return path


def deployment_path(path: str) -> str:
    """The stored form of a deployment path: validated, in Unicode NFC. macOS may write
    decomposed (NFD) names; browsers request what pages link, which is nearly always NFC,
    and two spellings of one name must not become two files."""
    return validate_path(unicodedata.normalize("NFC", path))


def request_candidates(url_path: str) -> list[str]:
    """Deployment paths to try, in order, for a request path (clean URLs, index.html)."""
    url_path = unicodedata.normalize("NFC", url_path)  # stored paths are NFC
    clean = posixpath.normpath("/" + url_path.lstrip("/")).lstrip("/")
    if clean in ("", "."):
        return ["index.html"]
    if url_path.endswith("/"):
        return [clean + "/index.html"]
    candidates = [clean]
    if "." not in clean.rsplit("/", 1)[-1]:
        candidates += [clean + ".html", clean + "/index.html"]
    return candidates


def canonical_path(raw: str) -> str | None:
    """The one spelling of a request path that routing, static files, the runtime and
    analytics all use: '/'-rooted, no empty, '.' or '..' segments (a '..' above the root
    stays at the root), the trailing slash kept. None for a path with a control character.

    Granian has already percent-decoded the path, so `..%2f` arrives as `../` and is
    resolved here like any other '..'; decoding again would turn `%252f` into a slash.
    """
    if _CONTROL.search(raw):  # also one a '..' would remove: no spelling games
        return None
    if "//" not in raw and "/." not in raw and raw.startswith("/"):
        clean = raw  # the common case: already canonical, no allocation
    else:
        parts: list[str] = []
        for part in raw.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        clean = "/" + "/".join(parts)
        if parts and (raw.endswith("/") or raw.endswith("/.") or raw.endswith("/..")):
            clean += "/"
    return clean


def is_server_only(path: str) -> bool:
    """True for deployment paths that are code run by the server, never served as files:
    JavaScript under api/, api/ helpers (a segment starting with '_'), a root main.js and
    anything under private/."""
    if path.startswith("api/"):
        return path.endswith(".js") or any(p.startswith("_") for p in path.split("/")[1:])
    return path == "main.js" or path.startswith("private/")
