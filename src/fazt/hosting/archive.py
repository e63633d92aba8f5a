"""Reading a deploy ZIP safely: limits checked before a byte is extracted.

Every problem rejects the whole archive (nothing is written): paths that escape,
absolute paths, symlinks, NUL bytes, too many entries, entries or totals over the limits,
and compression ratios only a zip bomb has.
"""

import hashlib
import lzma
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from fazt.hosting import mime
from fazt.hosting.deployments import DeployError, FileEntry, sha256_hex
from fazt.hosting.paths import UnsafePath, validate_path

IGNORED_PREFIXES = ("__MACOSX/",)
IGNORED_NAMES = (".DS_Store", "Thumbs.db")
RATIO_CHECK_MIN_BYTES = 1024 * 1024  # small files may legitimately compress very well
# What reading a broken member can raise: the decompressors' own errors (zlib.error and
# lzma.LZMAError are no OSError), and RuntimeError (encrypted entry) and its subclass
# NotImplementedError (unknown compression method or zip version).
_READ_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    RuntimeError,
)


@dataclass(frozen=True)
class DeployLimits:
    max_upload_bytes: int
    max_files: int
    max_file_bytes: int
    max_total_bytes: int
    max_ratio: int


class ZipDeploy:
    """A validated deploy archive: every entry checked and hashed before anything is
    stored, so a bad archive changes nothing; then read one file at a time."""

    def __init__(self, fileobj: BinaryIO, limits: DeployLimits) -> None:
        try:
            self._archive = zipfile.ZipFile(fileobj)
        except _READ_ERRORS as exc:
            raise DeployError(
                400, "INVALID_ZIP", f"the upload is not a valid ZIP file: {exc}"
            ) from None
        self._infos = _checked_entries(self._archive, limits)
        strip = _common_folder([i.filename for i in self._infos])
        self.entries = [self._verify(info, strip, limits) for info in self._infos]

    def _verify(self, info: zipfile.ZipInfo, strip: str, limits: DeployLimits) -> FileEntry:
        """Decompress one entry fully (CRC and real size checked) without keeping it."""
        digest, size = hashlib.sha256(), 0
        try:
            with self._archive.open(info) as member:
                while chunk := member.read(1024 * 1024):
                    size += len(chunk)
                    if size > limits.max_file_bytes:
                        raise DeployError(413, "FILE_TOO_LARGE", f"'{info.filename}' is too large")
                    digest.update(chunk)
        except _READ_ERRORS as exc:
            raise DeployError(400, "INVALID_ZIP", f"cannot read '{info.filename}': {exc}") from None
        path = info.filename[len(strip) :]
        try:  # again without the folder: "site/C:x" becomes "C:x"
            validate_path(path)
        except UnsafePath as exc:
            raise DeployError(400, "UNSAFE_PATH", str(exc)) from None
        return FileEntry(path, digest.hexdigest(), size, mime.guess(path))

    def files(self) -> Iterator[tuple[FileEntry, bytes]]:
        """Each (entry, bytes) in turn; only one file is in memory at a time."""
        for info, entry in zip(self._infos, self.entries, strict=True):
            data = self._archive.read(info)
            if sha256_hex(data) != entry.sha256:  # the upload changed under us
                raise DeployError(400, "INVALID_ZIP", f"'{info.filename}' changed while read")
            yield entry, data

    def read(self, path: str) -> bytes | None:
        """One file's bytes by its deployment path (e.g. manifest.json), or None."""
        for info, entry in zip(self._infos, self.entries, strict=True):
            if entry.path == path:
                return self._archive.read(info)
        return None

    def close(self) -> None:
        self._archive.close()


def _checked_entries(archive: zipfile.ZipFile, limits: DeployLimits) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.max_files * 2 + 100:
        raise DeployError(413, "TOO_MANY_FILES", f"the archive has {len(infos)} entries")
    chosen, total, seen = [], 0, set()
    for info in infos:
        name = info.filename
        # zipfile cuts names at the first NUL ("evil.html\0.png" -> "evil.html"): check the
        # name as stored in the archive.
        if "\x00" in info.orig_filename:
            raise DeployError(
                400, "UNSAFE_PATH", f"entry name contains NUL: {info.orig_filename!r}"
            )
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DeployError(400, "UNSAFE_PATH", f"symbolic links are not allowed: {name}")
        if info.is_dir():
            continue
        if name.startswith(IGNORED_PREFIXES) or name.rsplit("/", 1)[-1] in IGNORED_NAMES:
            continue
        try:
            validate_path(name)
        except UnsafePath as exc:
            raise DeployError(400, "UNSAFE_PATH", str(exc)) from None
        if info.file_size > limits.max_file_bytes:
            raise DeployError(
                413,
                "FILE_TOO_LARGE",
                f"'{name}' is {info.file_size} bytes; the limit is {limits.max_file_bytes}",
            )
        if info.file_size >= RATIO_CHECK_MIN_BYTES and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise DeployError(
                400,
                "SUSPICIOUS_COMPRESSION",
                f"'{name}' expands more than {limits.max_ratio}x: refusing a possible zip bomb",
            )
        if name in seen:
            raise DeployError(400, "DUPLICATE_PATH", f"'{name}' appears twice in the archive")
        seen.add(name)
        total += info.file_size
        chosen.append(info)
    if len(chosen) > limits.max_files:
        raise DeployError(
            413,
            "TOO_MANY_FILES",
            f"the archive has {len(chosen)} files; the limit is {limits.max_files}",
        )
    if total > limits.max_total_bytes:
        raise DeployError(
            413,
            "DEPLOY_TOO_LARGE",
            f"the archive expands to {total} bytes; the limit is {limits.max_total_bytes}",
        )
    if not chosen:
        raise DeployError(400, "EMPTY_DEPLOY", "the archive contains no files")
    return chosen


def _common_folder(names: list[str]) -> str:
    """'site/' when every file sits in one top folder and there is no root index.html."""
    if "index.html" in names or any("/" not in n for n in names):
        return ""
    first = names[0].split("/", 1)[0] + "/"
    return first if all(n.startswith(first) for n in names) else ""
