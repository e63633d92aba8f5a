"""Reading a deploy ZIP safely: limits checked before a byte is extracted.

Every problem rejects the whole archive (nothing is written): paths that escape,
absolute paths, symlinks, NUL bytes, two entries with one path (after Unicode NFC), too
many entries, entries or totals over the limits, and compression ratios only a zip bomb
has. Entries the publishing policy refuses (dotfiles, `.git/`, what a root `.faztignore`
lists) are never extracted; their paths are kept in `skipped` for the deploy's answer.
"""

import hashlib
import lzma
import stat
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from fazt.hosting import mime
from fazt.hosting.deploy_limits import DeployLimits
from fazt.hosting.deployments import DeployError, FileEntry, sha256_hex
from fazt.hosting.ignore import (
    IGNORE_FILE,
    MAX_IGNORE_BYTES,
    MAX_PATTERNS,
    MAX_WORK,
    IgnoreRules,
)
from fazt.hosting.paths import UnsafePath, deployment_path
from fazt.hosting.publishing_policy import PublishingPolicy, is_junk

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


def size_text(n: int) -> str:
    """A byte count as people read it: '512 bytes', '150 MB', '1.5 MB'."""
    if n < 1024 * 1024:
        return f"{n:,} bytes"
    return f"{n / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def file_too_large(path: str, size: int | None, limit: int) -> DeployError:
    """413 FILE_TOO_LARGE naming the size, the limit and the setting that holds it."""
    shown, cap = (size_text(size), size_text(limit)) if size is not None else ("", "")
    if shown == cap:  # rounded alike (100 MB + 1 byte): exact counts make the point
        shown, cap = f"{size:,} bytes" if size is not None else "", f"{limit:,} bytes"
    what = f"is {shown}" if size is not None else f"is larger than {cap}"
    return DeployError(
        "FILE_TOO_LARGE",
        f"'{path}' {what}; the limit per file is {cap} "
        "(setting deploy_max_file_bytes, docs/configuration.md)",
    )


# A ZIP deploy holds one file's bytes in memory at a time (ZipDeploy.files): files above
# this go through the streamed upload (`fazt deploy`, /api/uploads) instead, whatever
# deploy_max_file_bytes allows.
ZIP_MAX_FILE_BYTES = 256 * 1024 * 1024


def zip_file_too_large(path: str) -> DeployError:
    return DeployError(
        "FILE_TOO_LARGE",
        f"'{path}' is larger than {size_text(ZIP_MAX_FILE_BYTES)}, the most a ZIP deploy "
        "takes per file; deploy the folder with `fazt deploy`, which streams big files",
    )


def _check_entry_size(path: str, size: int | None, limits: DeployLimits, known: int) -> None:
    """FILE_TOO_LARGE past the setting, or past what a ZIP deploy holds in memory."""
    if known > limits.max_file_bytes:
        raise file_too_large(path, size, limits.max_file_bytes)
    if known > ZIP_MAX_FILE_BYTES:
        raise zip_file_too_large(path)


class ZipDeploy:
    """A validated deploy archive: every entry checked and hashed before anything is
    stored, so a bad archive changes nothing; then read one file at a time."""

    def __init__(
        self, fileobj: BinaryIO, limits: DeployLimits, include_dotfiles: bool = False
    ) -> None:
        try:
            self._archive = zipfile.ZipFile(fileobj)
        except _READ_ERRORS as exc:
            raise DeployError("INVALID_ZIP", f"the upload is not a valid ZIP file: {exc}") from None
        named = _named_entries(self._archive, limits)
        policy = PublishingPolicy(include_dotfiles, self._ignore_rules(named))
        published, self.skipped = policy.split(list(named))
        if named and not published:
            raise DeployError(
                "EMPTY_DEPLOY",
                f"nothing to publish: every file is skipped ({', '.join(self.skipped[:10])})",
            )
        self._infos = _checked_entries([named[p] for p in published], limits)
        self.entries = [
            self._verify(info, path, limits)
            for info, path in zip(self._infos, published, strict=True)
        ]

    def _ignore_rules(self, named: dict[str, zipfile.ZipInfo]) -> IgnoreRules:
        """The root .faztignore's rules; one too big to apply is refused, never cut short
        (a pattern dropped would publish what the user meant to keep private)."""
        info = named.get(IGNORE_FILE)
        if info is None:
            return IgnoreRules()
        try:
            with self._archive.open(info) as member:
                data = member.read(MAX_IGNORE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise DeployError("INVALID_ZIP", f"cannot read '{info.filename}': {exc}") from None
        rules = IgnoreRules.from_bytes(data)
        if (
            len(data) > MAX_IGNORE_BYTES
            or len(rules.patterns) > MAX_PATTERNS
            or rules.work(list(named)) > MAX_WORK
        ):
            raise DeployError(
                "FAZTIGNORE_TOO_LARGE",
                f"{IGNORE_FILE} is too much to apply to {len(named)} files: at most "
                f"{MAX_PATTERNS} patterns and {MAX_IGNORE_BYTES} bytes; prefer folder patterns",
            )
        return rules

    def _verify(self, info: zipfile.ZipInfo, path: str, limits: DeployLimits) -> FileEntry:
        """Decompress one entry fully (CRC and real size checked) without keeping it."""
        digest, size = hashlib.sha256(), 0
        try:
            with self._archive.open(info) as member:
                while chunk := member.read(1024 * 1024):
                    size += len(chunk)
                    _check_entry_size(info.filename, None, limits, size)
                    digest.update(chunk)
        except _READ_ERRORS as exc:
            raise DeployError("INVALID_ZIP", f"cannot read '{info.filename}': {exc}") from None
        return FileEntry(path, digest.hexdigest(), size, mime.guess(path))

    def files(self) -> Iterator[tuple[FileEntry, bytes]]:
        """Each (entry, bytes) in turn; only one file is in memory at a time."""
        for info, entry in zip(self._infos, self.entries, strict=True):
            data = self._archive.read(info)
            if sha256_hex(data) != entry.sha256:  # the upload changed under us
                raise DeployError("INVALID_ZIP", f"'{info.filename}' changed while read")
            yield entry, data

    def read(self, path: str) -> bytes | None:
        """One file's bytes by its deployment path (e.g. manifest.json), or None."""
        for info, entry in zip(self._infos, self.entries, strict=True):
            if entry.path == path:
                return self._archive.read(info)
        return None

    def close(self) -> None:
        self._archive.close()


def _named_entries(archive: zipfile.ZipFile, limits: DeployLimits) -> dict[str, zipfile.ZipInfo]:
    """Every file entry by its deployment path (top folder stripped, NFC), each checked
    for safety: an unsafe or duplicate path anywhere rejects the archive."""
    infos = archive.infolist()
    if len(infos) > limits.max_files * 2 + 100:
        raise DeployError("TOO_MANY_FILES", f"the archive has {len(infos)} entries")
    files = []
    for info in infos:
        # zipfile cuts names at the first NUL ("evil.html\0.png" -> "evil.html"): check the
        # name as stored in the archive.
        if "\x00" in info.orig_filename:
            raise DeployError("UNSAFE_PATH", f"entry name contains NUL: {info.orig_filename!r}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DeployError("UNSAFE_PATH", f"symbolic links are not allowed: {info.filename}")
        if info.is_dir() or is_junk(info.filename):
            continue
        try:
            deployment_path(info.filename)
        except UnsafePath as exc:
            raise DeployError("UNSAFE_PATH", str(exc)) from None
        files.append(info)
    strip = _common_folder([i.filename for i in files])
    named: dict[str, zipfile.ZipInfo] = {}
    for info in files:
        try:  # again without the folder: "site/C:x" becomes "C:x"
            path = deployment_path(info.filename[len(strip) :])
        except UnsafePath as exc:
            raise DeployError("UNSAFE_PATH", str(exc)) from None
        if path in named:
            raise DeployError("DUPLICATE_PATH", f"'{path}' appears twice in the archive")
        named[path] = info
    return named


def _checked_entries(infos: list[zipfile.ZipInfo], limits: DeployLimits) -> list[zipfile.ZipInfo]:
    """The limits, from the entries' headers (each entry's real size is checked when read)."""
    total = 0
    for info in infos:
        name = info.filename
        _check_entry_size(name, info.file_size, limits, info.file_size)
        if info.file_size >= RATIO_CHECK_MIN_BYTES and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise DeployError(
                "SUSPICIOUS_COMPRESSION",
                f"'{name}' expands more than {limits.max_ratio}x: refusing a possible zip bomb",
            )
        total += info.file_size
    if len(infos) > limits.max_files:
        raise DeployError(
            "TOO_MANY_FILES",
            f"the archive has {len(infos)} files; the limit is {limits.max_files}",
        )
    if total > limits.max_total_bytes:
        raise DeployError(
            "DEPLOY_TOO_LARGE",
            f"the archive expands to {total} bytes; the limit is {limits.max_total_bytes}",
        )
    if not infos:
        raise DeployError("EMPTY_DEPLOY", "the archive contains no files to publish")
    return infos


def _common_folder(names: list[str]) -> str:
    """'site/' when every file sits in one top folder and there is no root index.html."""
    if not names or "index.html" in names or any("/" not in n for n in names):
        return ""
    first = names[0].split("/", 1)[0] + "/"
    return first if all(n.startswith(first) for n in names) else ""
