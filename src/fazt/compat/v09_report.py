"""What a v0.9 import found, imported and skipped (with reasons), per kind of data."""

from collections import Counter
from dataclasses import dataclass, field

MAX_LISTED = 200  # skipped items named one by one in the report; the rest are counted


@dataclass
class Tally:
    """One kind of data (sites, files, kv, ...): counts and why items were skipped."""

    kind: str
    found: int = 0
    imported: int = 0
    reasons: Counter = field(default_factory=Counter)
    items: list[tuple[str, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(self.reasons.values())

    def skip(self, item: str, reason: str) -> None:
        self.reasons[reason] += 1
        if len(self.items) < MAX_LISTED:
            self.items.append((item, reason))

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "found": self.found,
            "imported": self.imported,
            "skipped": self.skipped,
            "reasons": dict(self.reasons),
            "skipped_items": [{"item": i, "reason": r} for i, r in self.items],
        }


@dataclass
class Report:
    source: str
    target: str
    dry_run: bool = False
    tallies: dict[str, Tally] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    verified: bool = False
    # The CLI's key on this machine when v0.9's admin was imported: saved as the local
    # peer by the command, never printed or put in to_dict().
    local_token: str | None = field(default=None, repr=False)
    local_url: str | None = None

    def tally(self, kind: str) -> Tally:
        if kind not in self.tallies:
            self.tallies[kind] = Tally(kind)
        return self.tallies[kind]

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "verified": self.verified,
            "mismatches": self.mismatches,
            "kinds": [t.to_dict() for t in self.tallies.values()],
            "notes": self.notes,
        }
