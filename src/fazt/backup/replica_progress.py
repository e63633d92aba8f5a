"""What Litestream's log says about the replica: position, lag, errors and outages.

fazt runs Litestream at log level debug and reads its output (never logging it: only
parsed positions and errors are kept). Three kinds of line matter:

- `msg="replica sync" txid.replica=R txid.db=N` (every sync-interval): the database is at
  transaction N, the replica at R; the first time N is seen is when it started waiting;
- `msg="ltx file uploaded" ... maxTXID=N`: the replica holds everything up to N;
- `level=ERROR`: the replica (or the database) failed; the first error after a good upload
  marks the endpoint down, the next good upload marks it back up (a recorded outage).

An endpoint that vanishes (connection refused, a host gone) often logs nothing for a long
time: the S3 client retries inside one upload and Litestream's loop waits on it. So silence
counts too: no replica activity for `stall_after` seconds marks the replica down since its
last sign of life (`check_stalled`, called by the supervisor every few seconds).

The lag is how long the oldest change the replica does not hold yet has been waiting, so it
works for any replica (S3 included), not only for folders.
"""

import re
import time
from datetime import UTC, datetime

_PAIR = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)')
MAX_PENDING = 10_000  # local positions remembered while the replica is down


def parse_line(line: str) -> dict[str, str]:
    """The key=value pairs of one logfmt line (quotes removed; a repeated key: the last)."""
    fields = {}
    for key, value in _PAIR.findall(line):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        fields[key] = value
    return fields


def _when(fields: dict[str, str]) -> float:
    """The line's own timestamp (epoch seconds), or now."""
    text = fields.get("time", "")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _txid(text: str | None) -> int | None:
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


class ReplicaProgress:
    """Positions and outages folded from Litestream's output, one line at a time."""

    def __init__(self) -> None:
        self.db_txid: int | None = None
        self.replica_txid: int | None = None
        self.replicated_at: float | None = None
        self.checked_at: float | None = None  # Litestream's last look at the database
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.down_since: float | None = None
        self.last_outage: dict | None = None
        self._first_seen: dict[int, float] = {}  # local txid -> when first seen

    def feed(self, line: str) -> bool:
        """Take one output line; True when it changed what the status shows."""
        fields = parse_line(line)
        msg, at = fields.get("msg"), _when(fields)
        if "level=ERROR" in line or "level=error" in line:
            self.last_error = (msg or "error") + (
                f": {fields['error']}" if "error" in fields else ""
            )
            self.last_error_at = at
            if self.down_since is None:
                self.down_since = at
            return True
        if msg == "replica sync" and (txid := _txid(fields.get("txid.db"))) is not None:
            self.checked_at = at
            self.db_txid = max(self.db_txid or 0, txid)
            new = txid not in self._first_seen and len(self._first_seen) < MAX_PENDING
            if new:
                self._first_seen[txid] = at
            held = _txid(fields.get("txid.replica"))
            if held and self.replica_txid is None:
                self.replica_txid = held  # what an earlier run already shipped (0: nothing)
            return new
        if msg == "ltx file uploaded" and (txid := _txid(fields.get("maxTXID"))) is not None:
            self.replica_txid = max(self.replica_txid or 0, txid)
            self.replicated_at = at
            self._first_seen = {t: s for t, s in self._first_seen.items() if t > txid}
            if self.down_since is not None:
                self.last_outage = {"down_at": iso(self.down_since), "back_at": iso(at)}
                self.down_since = None
            return True
        return False

    def check_stalled(self, now: float, stall_after: float) -> bool:
        """Mark the replica down when it has been silent too long; True when newly marked."""
        alive = max(self.checked_at or 0.0, self.replicated_at or 0.0)
        if self.down_since is not None or not alive or now - alive < stall_after:
            return False
        self.down_since = alive
        self.last_error = f"replica stalled: no progress for {now - alive:.0f}s"
        self.last_error_at = now
        return True

    def pending_since(self) -> float | None:
        """When the oldest change the replica does not hold yet was seen, or None."""
        floor = self.replica_txid or 0
        waiting = [s for t, s in self._first_seen.items() if t > floor]
        return min(waiting) if waiting else None

    def as_status(self) -> dict:
        """The fields of litestream.status.json this module owns."""
        return {
            "db_txid": self.db_txid,
            "replica_txid": self.replica_txid,
            "replicated_at": iso(self.replicated_at),
            "checked_at": self.checked_at,
            "pending_since": self.pending_since(),
            "last_error_at": iso(self.last_error_at),
            "down_since": iso(self.down_since),
            "last_outage": self.last_outage,
        }


def stall_seconds(sync_interval: str) -> float:
    """How long a silent replica is given: 5 sync intervals, at least 10 s."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", sync_interval.strip())
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    interval = float(match[1]) * scale[match[2]] if match else 1.0
    return max(10.0, 5 * interval)


def lag_seconds(status: dict, changed_at: float | None, now: float | None = None) -> float | None:
    """At most how long the oldest change the replica lacks has waited; 0 when caught up.

    `changed_at` is the database's last change (its WAL's mtime). A change Litestream has
    not looked at yet waits since its last look at the latest, so the answer is an upper
    bound, exact under a steady write load. None when nothing has been shipped yet.
    """
    if status.get("replica_txid") is None:
        return None
    now = now or time.time()
    waiting = [status["pending_since"]] if status.get("pending_since") else []
    checked = status.get("checked_at")
    if checked is not None and changed_at is not None and changed_at > checked:
        waiting.append(checked)
    return round(max(0.0, now - min(waiting)), 3) if waiting else 0.0
