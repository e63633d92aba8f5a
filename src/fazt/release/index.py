"""The release index: which versions exist, where their artifacts are, and their hashes.

`releases.json` is trusted only with a valid `releases.json.sig` (fazt.release.signing);
each artifact is then trusted through the sha256 the signed index gives for it.
"""

import json
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlparse

from fazt.errors import FaztError
from fazt.release import keys, signing

FETCH_TIMEOUT = 30.0
MAX_INDEX_BYTES = 1024 * 1024


class ReleaseError(FaztError):
    """Something about a release is wrong."""


@dataclass(frozen=True)
class Release:
    version: str
    url: str  # absolute
    file: str
    size: int
    sha256: str


def platform_tag() -> str:
    """e.g. linux-x86_64, linux-aarch64 (what `uname -s`/`uname -m` say)."""
    return f"{platform.system().lower()}-{platform.machine()}"


def version_key(version: str) -> tuple:
    """Order X.Y.Z versions numerically; a suffix (1.0.0rc1) sorts before the release."""
    match = re.match(r"^(\d+(?:\.\d+)*)(.*)$", version.strip())
    if match is None:
        return ((), 0, version)
    numbers = tuple(int(n) for n in match.group(1).split("."))
    suffix = match.group(2)
    return (numbers, 0 if suffix else 1, suffix)


def is_newer(candidate: str, current: str) -> bool:
    return version_key(candidate) > version_key(current)


def read_source(url: str, limit: int | None = None) -> bytes:
    """Bytes at an http(s) URL or a local path (`file://` or plain); ReleaseError if not."""
    import httpx  # only when fetching: the server imports this module at start

    parsed = urlparse(url)
    try:
        if parsed.scheme in ("http", "https"):
            response = httpx.get(url, timeout=FETCH_TIMEOUT, follow_redirects=True)
            if response.status_code != 200:
                raise ReleaseError(
                    "RELEASE_SOURCE_ERROR", f"{url} answered HTTP {response.status_code}"
                )
            data = response.content
        else:
            data = Path(parsed.path if parsed.scheme == "file" else url).read_bytes()
    except httpx.HTTPError as exc:
        raise ReleaseError("RELEASE_SOURCE_ERROR", f"cannot fetch {url}: {exc}") from None
    except OSError as exc:
        raise ReleaseError("RELEASE_SOURCE_ERROR", f"cannot read {url}: {exc}") from None
    if limit is not None and len(data) > limit:
        raise ReleaseError("RELEASE_SOURCE_ERROR", f"{url} is larger than {limit} bytes")
    return data


def fetch_verified(url: str) -> dict:
    """The index at `url`, after checking its signature; ReleaseError otherwise."""
    data = read_source(url, MAX_INDEX_BYTES)
    signature = read_source(url + ".sig", 4096)
    if not signing.verify(data, signature, keys.trusted_keys()):
        raise ReleaseError(
            "SIGNATURE_INVALID",
            f"{url}.sig is not a valid signature of {url} by a trusted fazt release key",
        )
    try:
        index = json.loads(data)
        if not isinstance(index.get("releases"), list):
            raise ValueError("no releases list")
    except (ValueError, AttributeError) as exc:
        raise ReleaseError("RELEASE_SOURCE_ERROR", f"{url} is not a release index: {exc}") from None
    index["_url"] = url
    return index


def latest_version(index: dict) -> str | None:
    versions = [r.get("version") for r in index["releases"] if isinstance(r, dict)]
    versions = [v for v in versions if isinstance(v, str)]
    return max(versions, key=version_key) if versions else None


def pick(index: dict, version: str | None = None, tag: str | None = None) -> Release:
    """The release for `version` (default: the latest) on this platform."""
    tag = tag or platform_tag()
    version = version or latest_version(index)
    entry = next(
        (r for r in index["releases"] if isinstance(r, dict) and r.get("version") == version),
        None,
    )
    if entry is None:
        raise ReleaseError("VERSION_NOT_FOUND", f"version {version} is not in {index['_url']}")
    artifact = (entry.get("artifacts") or {}).get(tag)
    if not isinstance(artifact, dict):
        raise ReleaseError("ASSET_NOT_FOUND", f"version {version} has no artifact for {tag}")
    try:
        return Release(
            version=version,
            url=urljoin(index["_url"], artifact.get("url") or artifact["file"]),
            file=artifact["file"],
            size=int(artifact["size"]),
            sha256=str(artifact["sha256"]).lower(),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReleaseError(
            "RELEASE_SOURCE_ERROR", f"bad artifact entry for {version}/{tag}: {exc}"
        ) from None
