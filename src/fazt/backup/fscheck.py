"""Refuse to run SQLite in WAL mode on network or virtual filesystems.

WAL needs shared memory (the -shm file, mmap'd) and POSIX locks that behave like a local
disk; NFS, SMB/CIFS, virtiofs, 9p and FUSE filesystems do not guarantee either, and the
result is silent corruption (https://sqlite.org/wal.html, "WAL does not work over a
network filesystem").
"""

import os
from dataclasses import dataclass
from pathlib import Path

UNSAFE_TYPES = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "virtiofs", "9p", "fuse", "fuseblk"}
MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fs_type: str
    source: str


def parse_mountinfo(text: str) -> list[Mount]:
    """Parse /proc/self/mountinfo lines (see proc(5)); octal escapes (\\040) decoded."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or not tail:
            continue
        mounts.append(
            Mount(_unescape(fields[4]), tail[0], _unescape(tail[1]) if len(tail) > 1 else "")
        )
    return mounts


def _unescape(value: str) -> str:
    return value.encode().decode("unicode_escape") if "\\" in value else value


def mount_for(path: Path, mounts: list[Mount]) -> Mount | None:
    """The mount holding `path` (longest mount point that is a prefix; the last wins)."""
    target = str(path)
    best: Mount | None = None
    for mount in mounts:
        point = mount.mount_point.rstrip("/") or "/"
        inside = target == point or target.startswith(point if point == "/" else point + "/")
        if inside and (best is None or len(point) >= len(best.mount_point.rstrip("/") or "/")):
            best = mount
    return best


def is_unsafe_type(fs_type: str) -> bool:
    return fs_type in UNSAFE_TYPES or fs_type.startswith("fuse.")


def unsafe_filesystem(db_path: Path, mountinfo: str | None = None) -> Mount | None:
    """The mount if the database's folder is on a filesystem unsafe for WAL, else None."""
    if mountinfo is None:
        try:
            mountinfo = MOUNTINFO.read_text()
        except OSError:  # not Linux: nothing we can check
            return None
    folder = Path(os.path.realpath(Path(db_path).expanduser().parent))
    mount = mount_for(folder, parse_mountinfo(mountinfo))
    return mount if mount is not None and is_unsafe_type(mount.fs_type) else None


def unsafe_message(db_path: Path, mount: Mount) -> str:
    return (
        f"the database {db_path} is on a {mount.fs_type} filesystem (mounted at "
        f"{mount.mount_point}): SQLite's WAL mode is not safe there (shared memory and "
        "locks do not work reliably over network or virtual filesystems) and the database "
        "can be corrupted. Put it on a local disk (--db PATH), or pass --allow-unsafe-fs "
        "if you know only this one process ever opens it."
    )
