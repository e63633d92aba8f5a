"""Sending one big file through the server's resumable upload (/api/uploads).

The file is read in pieces as the request body is sent, never whole. When the connection
breaks (or the server restarts) the client asks the server for the committed offset and
sends the rest from there, with fazt.backoff.Backoff between tries. Running the deploy
again after a kill resumes too: the server keeps the upload, keyed by site and sha256.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from fazt.backoff import Backoff
from fazt.remote.client import ApiError, FaztClient

READ_BYTES = 1024 * 1024
ATTEMPTS = 8
RETRY_BACKOFF = Backoff(base=0.5, cap=8.0, jitter=0.25)
# Worth retrying: no answer, a worker restarting, the upload still busy in a request the
# server has not yet seen end (a broken connection), or an offset that moved meanwhile.
RETRY_CODES = ("UPLOAD_BUSY", "OFFSET_MISMATCH", "REQUEST_TIMEOUT")
RETRY_STATUSES = (500, 502, 503, 504)


def send_file(
    client: FaztClient,
    site: str,
    path: str,
    source: Path,
    sha256: str,
    size: int,
    advance: Callable[[int], None] = lambda n: None,
    say: Callable[[str], None] = lambda msg: None,
) -> int:
    """Upload `source` until the server has it whole and verified; the bytes sent.

    `advance` gets the bytes as they go (those the server already had count at once).
    Raises ApiError when the server refuses, or after ATTEMPTS tries in a row that moved
    nothing."""
    position = _Position(advance)
    failures, shown_at_failure = 0, -1
    while True:
        try:
            upload = client.post(
                "/api/uploads", json={"site": site, "sha256": sha256, "size": size, "path": path}
            )
            position.at(upload["offset"])
            if upload["complete"] or _put_rest(client, upload, source, position):
                return position.sent
        except ApiError as exc:
            if not _retryable(exc):
                raise
            # ATTEMPTS failures in a row without progress: a flaky link that keeps moving
            # the upload forward is retried as long as it does.
            failures = 1 if position.shown > shown_at_failure else failures + 1
            shown_at_failure = position.shown
            if failures >= ATTEMPTS:
                raise
            wait = RETRY_BACKOFF.delay(failures)
            say(f"Upload of {path} interrupted ({exc}); resuming in {wait:.1f}s")
            time.sleep(wait)


def _retryable(exc: ApiError) -> bool:
    if exc.code is not None:
        return exc.code in RETRY_CODES
    return exc.status is None or exc.status in RETRY_STATUSES


class _Position:
    """Where the upload is, for the progress (which never steps back) and the count of
    bytes this client sent."""

    def __init__(self, advance: Callable[[int], None]) -> None:
        self.advance, self.shown, self.sent = advance, 0, 0

    def at(self, offset: int) -> None:
        if offset > self.shown:
            self.advance(offset - self.shown)
            self.shown = offset


def _put_rest(client: FaztClient, upload: dict, source: Path, position: _Position) -> bool:
    """Send the bytes from the committed offset; whether the upload is complete."""
    offset, size = upload["offset"], upload["size"]
    headers = {
        "content-type": "application/octet-stream",
        "content-range": f"bytes {offset}-{size - 1}/{size}",
        "content-length": str(size - offset),
    }
    answer = client.request(
        "PUT",
        f"/api/uploads/{upload['id']}",
        content=_pieces(source, offset, size, position),
        headers=headers,
        timeout=httpx.Timeout(60.0, write=60.0),
    )
    return bool(answer["complete"])


def _pieces(source: Path, offset: int, size: int, position: _Position) -> Iterator[bytes]:
    with source.open("rb") as fh:
        fh.seek(offset)
        while offset < size:
            piece = fh.read(min(READ_BYTES, size - offset))
            if not piece:
                raise ApiError(
                    f"{source} shrank while deploying; run the deploy again", code="FILE_CHANGED"
                )
            yield piece
            offset += len(piece)
            position.sent += len(piece)
            position.at(offset)
