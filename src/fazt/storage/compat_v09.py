"""The shapes fazt v0.9 apps expect back from `fazt.storage` (runtime-storage.md §2).

Apps written for v0.9 keep working when a return value only gains fields; these are the
places where this fazt's own shape differed and v0.9's wins (listed in
docs/migrating-from-v0.9.md):

- `kv.list` entries: `expiresAt` is a number (ms since the epoch), or absent without a TTL;
- `ds.insert` returns the id string (done in runtime/prelude.js, which picks `.id`);
- `s3.get` carries `hash` (the SHA-256 hex, also under `sha256`; done in prelude.js).
"""

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(iso: str) -> int:
    """An ISO-8601 UTC timestamp as whole milliseconds since the epoch."""
    return (datetime.fromisoformat(iso) - _EPOCH) // timedelta(milliseconds=1)


def kv_entries(entries: list[dict]) -> list[dict]:
    """kv.list entries as v0.9 gave them: `expiresAt` in ms, absent without a TTL."""
    out = []
    for entry in entries:
        expires = entry.pop("expiresAt", None)
        if expires is not None:
            entry["expiresAt"] = epoch_ms(expires)
        out.append(entry)
    return out
