"""What a file path inside a deployment may look like."""

import posixpath
import unicodedata

MAX_PATH_LENGTH = 1024


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
