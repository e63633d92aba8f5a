"""Reading a deploy ZIP safely: limits checked before a byte is extracted.

Every problem rejects the whole archive (nothing is written): paths that escape,
absolute paths, symlinks, NUL bytes, too many entries, entries or totals over the limits,
and compression ratios only a zip bomb has.
"""

import stat
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from fazt.hosting import mime
from fazt.hosting.deployments import DeployError, FileEntry, sha256_hex
from fazt.hosting.paths import UnsafePath, validate_path

IGNORED_PREFIXES = ("__MACOSX/",)
IGNORED_NAMES = (".DS_Store", "Thumbs.db")
RATIO_CHECK_MIN_BYTES = 1024 * 1024  # small files may legitimately compress very well


@dataclass(frozen=True)
class DeployLimits:
    max_upload_bytes: int
    max_files: int
    max_file_bytes: int
    max_total_bytes: int
    max_ratio: int


def read_zip(fileobj: BinaryIO, limits: DeployLimits) -> list[tuple[FileEntry, bytes]]:
    """Validate and read every file of the archive into (entry, bytes) pairs."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DeployError(
            400, "INVALID_ZIP", f"the upload is not a valid ZIP file: {exc}"
        ) from None
    with archive:
        infos = _checked_entries(archive, limits)
        strip = _common_folder([i.filename for i in infos])
        files = []
        for info in infos:
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise DeployError(
                    400, "INVALID_ZIP", f"cannot read '{info.filename}': {exc}"
                ) from None
            if len(data) > limits.max_file_bytes:
                raise DeployError(413, "FILE_TOO_LARGE", f"'{info.filename}' is too large")
            path = info.filename[len(strip) :]
            entry = FileEntry(path, sha256_hex(data), len(data), mime.guess(path))
            files.append((entry, data))
    return files


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
