"""An S3 key pair kept in a file of its own (mode 0600), never in the database: the blob
store's and the Litestream replica's credentials are both saved this way."""

import contextlib
import json
import os
from pathlib import Path


def save_key_pair(path: Path, access_key_id: str | None, secret_access_key: str | None) -> None:
    """Write the pair to `path` (created 0600); remove the file when both are empty."""
    if not access_key_id and not secret_access_key:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"access_key_id": access_key_id, "secret_access_key": secret_access_key}, f)
