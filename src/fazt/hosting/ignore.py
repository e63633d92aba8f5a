""".faztignore rules: one glob per line, `#` starts a comment line, a trailing `/` matches
folders only, a leading `/` anchors a pattern at the site root.

A pattern matches an entry when it matches the entry's path relative to the site root, or
(unanchored) its name alone. A file is ignored when it matches, or when one of its folders
does. The CLI applies these rules while walking a folder; the server applies them to a ZIP
that carries a `.faztignore` at its root. Matching is case-sensitive on every platform.
"""

from dataclasses import dataclass
from fnmatch import fnmatchcase

IGNORE_FILE = ".faztignore"
MAX_IGNORE_BYTES = 64 * 1024  # more than any real ignore file; bounds the server's work
MAX_PATTERNS = 1000


@dataclass(frozen=True)
class IgnoreRules:
    patterns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "IgnoreRules":
        lines = (ln.strip() for ln in text.splitlines())
        patterns = [ln for ln in lines if ln and not ln.startswith("#")]
        return cls(tuple(patterns[:MAX_PATTERNS]))

    @classmethod
    def from_bytes(cls, data: bytes) -> "IgnoreRules":
        return cls.parse(data[:MAX_IGNORE_BYTES].decode("utf-8", errors="replace"))

    def matches(self, rel: str) -> bool:
        """One entry: a file path, or a folder path ending in `/` (its parents not checked)."""
        is_dir = rel.endswith("/")
        bare = rel.rstrip("/")
        name = bare.rsplit("/", 1)[-1]
        for pattern in self.patterns:
            dir_only = pattern.endswith("/")
            if dir_only and not is_dir:
                continue
            glob = pattern.rstrip("/")
            anchored = glob.startswith("/")
            glob = glob.lstrip("/")
            if fnmatchcase(bare, glob) or (not anchored and fnmatchcase(name, glob)):
                return True
        return False

    def ignores(self, path: str) -> bool:
        """A file path: ignored itself or through one of its folders."""
        if not self.patterns:
            return False
        parts = path.split("/")
        folders = ("/".join(parts[:i]) + "/" for i in range(1, len(parts)))
        return any(self.matches(folder) for folder in folders) or self.matches(path)
