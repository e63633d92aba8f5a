"""HTTP range requests (RFC 9110 §14): the `Range` header, `If-Range`, and the parts of a
`multipart/byteranges` answer. The header comes from outside: every malformed value is
ignored (the whole file is sent, as RFC 9110 allows), never an error.
"""

import secrets
from datetime import datetime

MAX_RANGES = 16  # more parts than a video player or a PDF viewer asks for: sent whole
UNSATISFIABLE = "unsatisfiable"

Ranges = list[tuple[int, int]]  # (start, end) with end exclusive, sorted, not overlapping


def parse(header: str | None, size: int) -> Ranges | str | None:
    """The byte ranges of `header` for a representation of `size` bytes: a list of
    (start, end) merged where they overlap or touch; UNSATISFIABLE (answer 416) when
    none of them starts inside the file; None when the header is absent, malformed, or
    asks for more than MAX_RANGES parts (answer 200 with the whole file)."""
    if not header:
        return None
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    wanted: Ranges = []
    count = 0
    for spec in specs.split(","):
        spec = spec.strip(" \t")
        if not spec:  # the list syntax allows empty elements
            continue
        count += 1
        if count > MAX_RANGES:
            return None
        parsed = _one(spec, size)
        if parsed is None:
            return None
        if parsed != UNSATISFIABLE:
            wanted.append(parsed)
    if count == 0:
        return None
    if not wanted:
        return UNSATISFIABLE
    return _merged(wanted)


def _one(spec: str, size: int) -> tuple[int, int] | str | None:
    first, sep, last = spec.partition("-")
    if not sep or not (first or last):
        return None
    if not _digits(first) or not _digits(last):
        return None
    if first == "":  # "-N": the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - length), size
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: the whole header is ignored
    if start >= size:
        return UNSATISFIABLE
    end = size if not last else min(int(last) + 1, size)
    return start, end


def _digits(text: str) -> bool:
    # int() would also take "+1", " 1", "1_000" and non-ASCII digits; the grammar is 1*DIGIT.
    return text == "" or (text.isascii() and text.isdigit() and len(text) <= 20)


def _merged(ranges: Ranges) -> Ranges:
    """Sorted, with overlapping and adjacent ranges joined: many small overlapping parts
    cannot make the answer bigger than the file (RFC 9110 §15.3.7.2's attack)."""
    out: Ranges = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def if_range_allows(value: str | None, etag: str, last_modified: datetime | None) -> bool:
    """Whether a Range applies under this If-Range (absent: yes). An entity tag must match
    strongly (a weak one never does); a date must equal Last-Modified exactly."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    if last_modified is None:
        return False
    from email.utils import parsedate_to_datetime  # on use (idle memory, issue 22)

    try:
        return parsedate_to_datetime(value) == last_modified
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def new_boundary() -> str:
    return secrets.token_hex(12)


def multipart_heads(
    ranges: Ranges, size: int, content_type: str, boundary: str
) -> tuple[list[bytes], bytes, int]:
    """The head of each part, the closing line, and the whole body's length."""
    heads = [
        (
            f"\r\n--{boundary}\r\ncontent-type: {content_type}\r\n"
            f"content-range: bytes {start}-{end - 1}/{size}\r\n\r\n"
        ).encode()
        for start, end in ranges
    ]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + sum(e - s for s, e in ranges) + len(tail)
    return heads, tail, length


def ranged_bytes(
    range_header: str | None,
    if_range: str | None,
    body: bytes,
    etag: str,
    last_modified: str | None,
    content_type: str,
) -> tuple[int, bytes, list[tuple[str, str]]] | None:
    """A range request on bytes held in memory (an image variant): (status, body, headers
    to add) for 206 or 416, or None to answer 200 with the whole body (no Range, an
    If-Range that no longer matches, a malformed header). A multipart answer's headers
    include its own content-type, which replaces the representation's."""
    if not range_header:
        return None
    modified = None
    if last_modified:
        from email.utils import parsedate_to_datetime  # on use (idle memory, issue 22)

        try:
            modified = parsedate_to_datetime(last_modified)
        except (TypeError, ValueError, IndexError, OverflowError):
            modified = None
    if not if_range_allows(if_range, etag, modified):
        return None
    size = len(body)
    wanted = parse(range_header, size)
    if wanted is None:
        return None
    if wanted == UNSATISFIABLE:
        return 416, b"", [("content-range", f"bytes */{size}")]
    if len(wanted) == 1:
        start, end = wanted[0]
        return 206, body[start:end], [("content-range", f"bytes {start}-{end - 1}/{size}")]
    boundary = new_boundary()
    heads, tail, _ = multipart_heads(wanted, size, content_type, boundary)
    parts = b"".join(h + body[s:e] for h, (s, e) in zip(heads, wanted, strict=True))
    return 206, parts + tail, [("content-type", f"multipart/byteranges; boundary={boundary}")]
