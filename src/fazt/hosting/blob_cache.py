"""A verified, disposable copy of blobs on disk, so big files are sent by Granian, not Python.

SQLite stays the one source of truth (backups copy one file); this folder
(`<data dir>/blob-cache/ab/<name>`) only holds copies that Granian's file response can
send straight from the page cache. A file's name is its content's hash (`<sha256>`), or
`<sha256>.<encoding>` for a compressed variant of that blob, so a name can never stand
for other bytes: nothing here goes stale, a deploy or a rollback only changes which
names are asked for.

Trust, and what it costs:

- A file is written under a temporary name, verified (its sha256 is its name; a
  variant must decompress to bytes with that sha256) and renamed into place. Only
  then is it served.
- Serving checks one `stat`: size, inode, mtime and ctime must be those seen when the
  file was verified. Any change made through the filesystem (a truncate, a rewrite, an
  editor that restores the mtime) moves the ctime, which user space cannot set back, so
  the file is verified again and, if wrong, replaced from SQLite before it is sent.
  Corruption below the filesystem (bad sectors) is not seen: the SQLite file itself has
  the same exposure, and hashing every send would cost what the cache saves.
- Files found at start (from an earlier run) are verified by hashing on first use.
- The folder is bounded (least recently used files are deleted), may be deleted at any
  time (files are fetched again), and two workers sharing it during a handover only
  ever rename whole, verified files into it.

Used from the event loop; the file work runs on fazt.cpu's threads.
"""

import asyncio
import contextlib
import gzip
import hashlib
import logging
import os
import secrets
import shutil
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import brotli

from fazt.cpu import run_cpu

log = logging.getLogger("fazt")

HASH_CHUNK = 1024 * 1024
TMP_PREFIX = "tmp-"
MIN_FREE_FRACTION = 0.05  # never fill the disk past 95%: the database lives there too

# Writes the source's bytes to the path given and returns their sha256 ("": no source).
Copier = Callable[[Path], Awaitable[str]]
Stamp = tuple[int, int, int, int]  # size, inode, mtime_ns, ctime_ns


def variant_name(sha256: str, encoding: str | None) -> str:
    """The cache name of a blob (encoding None) or of one of its compressed variants."""
    return sha256 if encoding is None else f"{sha256}.{encoding}"


class BlobCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self._root = str(self.root)
        self.max_bytes = max_bytes
        self.used = 0
        # name -> (size, stamp when verified; None: found on disk, not verified yet), LRU.
        self._files: OrderedDict[str, tuple[int, Stamp | None]] = OrderedDict()
        self._filling: dict[str, Awaitable[str | None]] = {}
        # Uploads stage their copy here as they arrive (setting blob_cache_from_uploads).
        self.from_uploads = False
        self.fills = 0  # files written (for tests and status)
        self.rejected = 0  # files that failed verification

    def path(self, name: str) -> Path:
        return Path(self._file(name))

    def _file(self, name: str) -> str:
        """The copy's path as a string: built on every hot-path answer, where two pathlib
        joins cost more than the rest of the lookup."""
        return f"{self._root}/{name[:2]}/{name}"

    # -- start ----------------------------------------------------------------------------

    def scan(self) -> None:
        """Take stock of the files an earlier run left (unverified until used); remove
        half-written temporary files. Runs once at start."""
        found = []
        for staged in self.root.glob(f"{TMP_PREFIX}*"):  # uploads' copies (staging())
            _unlink(staged)
        for sub in self.root.glob("??"):
            for entry in os.scandir(sub):
                if entry.name.startswith(TMP_PREFIX):
                    _unlink(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    found.append((st.st_atime_ns, entry.name, st.st_size))
        for _, name, size in sorted(found):  # least recently read first
            self._files[name] = (size, None)
            self.used += size
        self._evict()

    # -- serving --------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        """The path of this file if it was verified and has not changed since (one stat);
        None otherwise (then `fill` it)."""
        item = self._files.get(name)
        if item is None or item[1] is None:
            return None
        path = self._file(name)
        try:
            st = os.stat(path)
        except OSError:  # deleted (the folder was cleared): fetched again
            self._forget(name)
            return None
        if _stamp(st) != item[1]:
            self._forget(name)  # changed on disk: verified again (or replaced) by fill
            return None
        self._files.move_to_end(name)
        return path

    def read(self, name: str) -> bytes | None:
        """The bytes of this file if it was verified and has not changed since (checked on
        the open file, so the bytes read are the ones checked); None otherwise. For small
        files on the hot path: reading them here costs less than Granian's file response
        (docs/decisions/008-blob-serving.md)."""
        item = self._files.get(name)
        if item is None or item[1] is None:
            return None
        try:
            fd = os.open(self._file(name), os.O_RDONLY)
        except OSError:  # deleted (the folder was cleared): fetched again
            self._forget(name)
            return None
        try:
            st = os.fstat(fd)
            if _stamp(st) != item[1]:
                self._forget(name)  # changed on disk: verified again by fill
                return None
            data = os.pread(fd, st.st_size, 0)
        except OSError:
            return None
        finally:
            os.close(fd)
        if len(data) != st.st_size:
            return None
        self._files.move_to_end(name)
        return data

    async def fill(self, name: str, size: int, copy: Copier) -> str | None:
        """Make sure a verified copy of this file is here; its path, or None when it is not
        cached (bigger than the cache, the disk nearly full, an I/O error)."""
        found = self.get(name)
        if found is not None:
            return found
        if size > self.max_bytes:
            return None
        pending = self._filling.get(name)
        if pending is None:  # one fill per name, however many requests wait for it
            pending = self._filling[name] = _shared(self._fill(name, size, copy))
        return await pending

    async def store(self, name: str, data: bytes) -> str | None:
        """`fill` from bytes already in memory (a compressed variant)."""

        async def copy(tmp: Path) -> str:
            return await run_cpu(_write_bytes, tmp, data)

        return await self.fill(name, len(data), copy)

    async def _fill(self, name: str, size: int, copy: Copier) -> str | None:
        try:
            path = self.path(name)
            stamp = await run_cpu(_verify_existing, path, name, size)
            if stamp is None:
                if not await run_cpu(self._room_for, size):
                    return None
                stamp = await self._write(path, name, copy)
            if stamp is None:
                return None
            self._forget(name)
            self._files[name] = (size, stamp)
            self.used += size
            self._evict()
            return str(path) if name in self._files else None
        except OSError as exc:
            log.warning("blob cache: cannot cache %s: %s", name, exc)
            return None
        finally:
            self._filling.pop(name, None)

    async def _write(self, path: Path, name: str, copy: Copier) -> Stamp | None:
        """Copy the source to a temporary file, verify it, rename it into place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f"{TMP_PREFIX}{secrets.token_hex(8)}"
        try:
            digest = await copy(tmp)
            if not digest:
                return None  # the blob is gone (its site was deleted)
            ok = await run_cpu(_verified, tmp, name, digest)
            if not ok:
                self.rejected += 1
                log.error("blob cache: %s did not verify after copying; not cached", name)
                return None
            os.replace(tmp, path)
            self.fills += 1
            return _stamp(os.stat(path))
        finally:
            _unlink(tmp)

    # -- copies written elsewhere (an upload's pieces, fazt.api.uploads) -----------------

    def staging(self, key: str) -> Path:
        """A temporary file in the cache folder for a copy being written piece by piece;
        like every temporary file here, removed at the next start if left behind."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.root / f"{TMP_PREFIX}{key}"

    def has_room(self, size: int) -> bool:
        """Whether a copy of `size` bytes would be kept (within the bound, disk not full)."""
        return size <= self.max_bytes and self._room_for(size)

    def adopt(self, name: str, tmp: Path, size: int) -> str | None:
        """Take a staged file into the cache without reading it again: the caller hashed
        exactly these bytes as it wrote them, in one process, and they hash to `name`
        (an upload's stream). Its path, or None (and the file removed) when not kept."""
        try:
            if name in self._files or size > self.max_bytes or os.stat(tmp).st_size != size:
                return None
            path = self.path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
            self._files[name] = (size, _stamp(os.stat(path)))
            self.used += size
            self.fills += 1
            self._evict()
            return str(path) if name in self._files else None
        except OSError as exc:
            log.warning("blob cache: cannot keep the uploaded copy of %s: %s", name, exc)
            return None
        finally:
            _unlink(tmp)  # gone already when it was renamed into place

    # -- bounds ---------------------------------------------------------------------------

    def _room_for(self, size: int) -> bool:
        """Whether writing `size` more bytes leaves the filesystem MIN_FREE_FRACTION free."""
        # Private like the database: it holds preview deployments' files too.
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        usage = shutil.disk_usage(self.root)
        return usage.free - size >= usage.total * MIN_FREE_FRACTION

    def _evict(self) -> None:
        while self.used > self.max_bytes and self._files:
            name = next(iter(self._files))
            self._forget(name)
            _unlink(self.path(name))

    def _forget(self, name: str) -> None:
        item = self._files.pop(name, None)
        if item is not None:
            self.used -= item[0]

    def filling(self, name: str) -> bool:
        """Whether a copy of this file is being made now."""
        return name in self._filling

    def __contains__(self, name: str) -> bool:
        return name in self._files


def _shared(coro: Coroutine[Any, Any, str | None]) -> Awaitable[str | None]:
    """A task several requests can await (a bare coroutine can be awaited only once)."""
    return asyncio.ensure_future(coro)


def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


def _write_bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _verify_existing(path: Path, name: str, size: int) -> Stamp | None:
    """The stamp of a file already in place whose content verifies (an earlier run's
    copy, or one that changed on disk); None if absent or wrong (then removed)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_size != size:
        _unlink(path)
        return None
    if _verified(path, name, _file_sha256(path) if "." not in name else ""):
        return _stamp(st) if _stamp(os.stat(path)) == _stamp(st) else None
    log.warning("blob cache: %s did not match its hash; fetched again", name)
    _unlink(path)
    return None


def _verified(path: Path, name: str, sha256: str) -> bool:
    """A blob's bytes hash to its name; a variant decompresses to the blob's bytes."""
    blob, _, encoding = name.partition(".")
    if not encoding:
        return sha256 == blob
    data = path.read_bytes()
    try:
        plain = brotli.decompress(data) if encoding == "br" else gzip.decompress(data)
    except (OSError, EOFError, brotli.error):
        return False
    return hashlib.sha256(plain).hexdigest() == blob


def _file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
