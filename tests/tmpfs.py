"""A small tmpfs for disk-full tests: a real file system that fills up (needs root)."""

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_tmpfs(size_mb: int) -> Iterator[Path]:
    """A fresh tmpfs of `size_mb` MB, unmounted afterwards; the test is skipped, with the
    reason printed, where it cannot be mounted (not root, no mount permission)."""
    where = Path(tempfile.mkdtemp(prefix="fazt-tmpfs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        where.rmdir()
        reason = f"cannot mount a {size_mb} MB tmpfs: {mounted.stderr.strip() or 'mount failed'}"
        print(reason)
        pytest.skip(reason)
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], check=False)
        where.rmdir()


def fill(where: Path, leave_bytes: int) -> Path:
    """A file that takes the tmpfs's space but `leave_bytes` (another program's data)."""
    filler = where / "filler.bin"
    free = shutil.disk_usage(where).free
    with filler.open("wb") as out:
        remaining = max(0, free - leave_bytes)
        chunk = b"\0" * (1024 * 1024)
        while remaining > 0:
            n = min(remaining, len(chunk))
            out.write(chunk[:n])
            remaining -= n
    return filler
