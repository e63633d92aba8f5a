"""The Content-Range header of a request body (a resumable upload's piece).

`bytes START-END/TOTAL` (END inclusive, TOTAL or `*`), as in RFC 9110 §14.4. Strict on
purpose: anything else is refused, so a client never has its bytes put at a wrong offset.
"""

import re
from dataclasses import dataclass

_RANGE = re.compile(r"bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)")


class BadContentRange(ValueError):
    """The header is malformed or inconsistent; the message says how."""


@dataclass(frozen=True)
class ContentRange:
    start: int
    end: int  # exclusive
    total: int | None  # None for "*"

    @property
    def length(self) -> int:
        return self.end - self.start


def parse(header: str) -> ContentRange:
    """The range a body covers; raises BadContentRange."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        raise BadContentRange(f"Content-Range must be 'bytes START-END/TOTAL', not {header!r}")
    first, last = int(match.group(1)), int(match.group(2))
    total = None if match.group(3) == "*" else int(match.group(3))
    if last < first:
        raise BadContentRange(f"Content-Range {header!r} ends before it starts")
    if total is not None and last >= total:
        raise BadContentRange(f"Content-Range {header!r} ends beyond the total size")
    return ContentRange(first, last + 1, total)
