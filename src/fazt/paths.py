"""Where fazt keeps its files: $FAZT_HOME (default ~/.fazt)."""

import os
from pathlib import Path


def fazt_home() -> Path:
    return Path(os.environ.get("FAZT_HOME") or Path.home() / ".fazt").expanduser()


def default_db_path() -> Path:
    return fazt_home() / "data.db"


def client_db_path() -> Path:
    return fazt_home() / "client.db"
