"""Validation and JSON helpers shared by kv, documents and objects."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fazt.db.clock import stamp, utcnow
from fazt.storage.errors import StorageError

MAX_DEPTH = 64  # nesting of arrays/objects in a stored value (SQLite's JSON limit is 1000+)


def check_text(what: str, value: Any, max_chars: int, *, allow_empty: bool = False) -> str:
    """A name (key, collection, path, id): a str, within limits, valid UTF-8, no NUL."""
    if not isinstance(value, str):
        raise StorageError(f"{what} must be a string")
    if not value and not allow_empty:
        raise StorageError(f"{what} must not be empty")
    if len(value) > max_chars:
        raise StorageError(f"{what} is longer than {max_chars} characters")
    if "\x00" in value:
        raise StorageError(f"{what} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise StorageError(f"{what} is not valid Unicode (lone surrogate)") from None
    return value


def _reject_constant(name: str) -> Any:
    raise StorageError(f"{name} is not valid JSON")


def parse_json(what: str, text: Any) -> Any:
    """Parse JSON text from the app (NaN/Infinity refused, depth limited)."""
    if not isinstance(text, str):
        raise StorageError(f"{what} is missing or not JSON text")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise StorageError(f"{what} is not valid JSON") from None
    check_depth(what, value)
    return value


def check_depth(what: str, value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise StorageError(f"{what} is nested deeper than {MAX_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _normalise(value: Any) -> Any:
    """Integral floats become ints (JavaScript has one number type: 1.0 is 1)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def dumps(value: Any, *, sort_keys: bool = True) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept, integral numbers as integers.

    Documents are stored in this form, so equal values have equal text (nested-object
    equality in queries compares this text). kv values keep their key order.
    """
    try:
        text = json.dumps(
            _normalise(value),
            sort_keys=sort_keys,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except ValueError:
        raise StorageError("value is not valid JSON (NaN or Infinity)") from None
    check_unicode("value", text)
    return text


def check_size(what: str, text: str, limit: int) -> int:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise StorageError(f"{what} is {size} bytes; the limit is {limit} bytes")
    return size


def check_unicode(what: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise StorageError(f"{what} is not valid Unicode (lone surrogate)") from None


def now() -> str:
    return utcnow()


def after_ms(ms: float) -> str:
    """The stored timestamp `ms` milliseconds from now."""
    return stamp(datetime.now(UTC) + timedelta(milliseconds=ms))


def prefix_clause(column: str, prefix: str) -> tuple[str, tuple]:
    """A literal, case-sensitive prefix match that can still use the (app, column) index."""
    if not prefix:
        return "1", ()
    return f"({column} >= ? AND substr({column}, 1, ?) = ?)", (prefix, len(prefix), prefix)
