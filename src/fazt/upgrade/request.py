"""The upgrade request: what the worker asks its supervisor to activate.

The worker writes `<db>.upgrade-request` (JSON) and signals the supervisor (SIGUSR2); the
supervisor takes the file and runs the handover. Keep the format stable: a supervisor of
an older release may read a request written by a newer worker (when its re-exec failed).
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path


class RequestError(ValueError):
    pass


@dataclass(frozen=True)
class UpgradeRequest:
    id: str  # the row in the upgrades table
    version: str
    python: str  # the new release's interpreter
    root: Path  # the install root (`current` and `previous` live there)
    db: str

    def write(self, path: Path) -> None:
        """Write atomically: the supervisor never reads half a request."""
        fields = {"id": self.id, "version": self.version, "python": self.python}
        fields |= {"root": str(self.root), "db": self.db}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(fields))
        os.replace(tmp, path)


def request_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.upgrade-request")


def take(path: Path) -> UpgradeRequest:
    """Read and remove the request (a signal acts on it once); RequestError if unreadable."""
    try:
        fields = json.loads(path.read_text())
        path.unlink()
        return UpgradeRequest(
            id=str(fields["id"]),
            version=str(fields["version"]),
            python=str(fields["python"]),
            root=Path(fields["root"]),
            db=str(fields["db"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RequestError(f"no readable request ({exc})") from None
