"""Reading one cookie's values out of a `Cookie` request header.

A browser sends every cookie whose domain and path match, so one name can arrive several
times: a page on a sibling subdomain can plant its own `fazt_session` for the parent
domain or for a longer path (sent *before* ours). Callers therefore get every value, in
order, and keep the first one that is valid.
"""

MAX_VALUES = 50  # values of one name looked at per request (a header carries a few KB)
MAX_LENGTH = 128  # longer values are none of ours (a session token is 43 characters)


def values(header: str | None, name: str) -> list[str]:
    """The non-empty values sent for cookie `name`, in header order, bounded in number
    and length. Never raises, whatever the header holds."""
    found: list[str] = []
    for part in (header or "").split(";"):
        key, sep, value = part.partition("=")
        value = value.strip()
        if not sep or key.strip() != name or not value or len(value) > MAX_LENGTH:
            continue
        found.append(value)
        if len(found) == MAX_VALUES:
            break
    return found
