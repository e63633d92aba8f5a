"""The batch-upload body: many small blobs in one request.

A body is a sequence of frames: the blob's sha256 as 64 lower-case hex digits, its
length as 12 decimal digits, then that many bytes.
"""

import hashlib
import re

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HEAD = 64 + 12


class BadFrames(ValueError):
    """The body is malformed or a blob does not hash to its name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def encode(sha256: str, data: bytes) -> bytes:
    return f"{sha256}{len(data):012d}".encode() + data


def decode(body: bytes) -> list[tuple[str, bytes]]:
    """(sha256, bytes) pairs, each verified; raises BadFrames."""
    blobs, offset = [], 0
    while offset < len(body):
        head = body[offset : offset + _HEAD].decode("ascii", errors="replace")
        sha, length = head[:64], head[64:]
        if len(head) < _HEAD or not _SHA256.match(sha) or not length.isdigit():
            raise BadFrames("BAD_REQUEST", f"malformed blob frame at byte {offset}")
        start = offset + _HEAD
        blob = body[start : start + int(length)]
        if len(blob) != int(length):
            raise BadFrames("BAD_REQUEST", f"blob {sha} is truncated")
        if hashlib.sha256(blob).hexdigest() != sha:
            raise BadFrames("HASH_MISMATCH", f"a blob does not hash to its name {sha}")
        blobs.append((sha, blob))
        offset = start + len(blob)
    if not blobs:
        raise BadFrames("BAD_REQUEST", "no blobs in the request")
    return blobs
