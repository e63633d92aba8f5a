"""Compressed variants of text files: gzip and brotli, computed once per blob."""

import functools
import gzip

import brotli

MIN_BYTES = 256
MAX_BYTES = 8 * 1024 * 1024
ENCODINGS = ("br", "gzip")


def compress(data: bytes) -> dict[str, bytes]:
    """Variants worth serving (at least 10% smaller than the original)."""
    if not MIN_BYTES <= len(data) <= MAX_BYTES:
        return {}
    candidates = {
        # Moderate levels: computed on a cache miss, so speed matters as much as size.
        "br": brotli.compress(data, quality=5),
        "gzip": gzip.compress(data, compresslevel=6, mtime=0),
    }
    return {enc: blob for enc, blob in candidates.items() if len(blob) < 0.9 * len(data)}


def preferred(accept_encoding: str | None, available: dict[str, bytes]) -> str | None:
    """The best encoding both sides support, honouring q=0 refusals."""
    if not accept_encoding or not available:
        return None
    for enc in _acceptable(accept_encoding):
        if enc in available:
            return enc
    return None


@functools.lru_cache(maxsize=512)  # browsers send the same few header values
def _acceptable(accept_encoding: str) -> tuple[str, ...]:
    """Our encodings this Accept-Encoding value allows, best first."""
    accepted, refused = set(), set()
    for part in accept_encoding.lower().split(","):
        token, _, params = part.strip().partition(";")
        q = params.replace(" ", "")
        if q.startswith("q=") and _zero(q[2:]):
            refused.add(token.strip())
            continue
        accepted.add(token.strip())
    # "*" stands for the codings not named explicitly; a named q=0 is a refusal.
    return tuple(
        enc for enc in ENCODINGS if enc in accepted or ("*" in accepted and enc not in refused)
    )


def _zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False
