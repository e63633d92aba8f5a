""".faztignore rules: one glob per line, `#` starts a comment line, a trailing `/` matches
folders only, a leading `/` anchors a pattern at the site root.

A pattern matches an entry when it matches the entry's path relative to the site root, or
(unanchored) its name alone. A file is ignored when it matches, or when one of its folders
does. The CLI applies these rules while walking a folder; the server applies them to a ZIP
that carries a `.faztignore` at its root. Matching is case-sensitive on every platform.
"""

import re
from dataclasses import dataclass, field
from fnmatch import translate

IGNORE_FILE = ".faztignore"
# What the server accepts in a ZIP (real ones have a few dozen lines); the CLI has no limit.
MAX_IGNORE_BYTES = 64 * 1024
MAX_PATTERNS = 100
MAX_REMEMBERED = 100_000  # folder verdicts kept while one deploy is checked
# Patterns x path characters a server-side check may cost: ~1 s of CPU for star-heavy
# patterns; a real site (50 patterns, 10,000 paths of 80 characters) needs 40 million.
MAX_WORK = 200_000_000


_NOTHING = re.compile(r"(?!)")


def _combined(globs: list[str]) -> re.Pattern:
    """One regex for several globs: every path of a deploy is matched against all rules."""
    if not globs:
        return _NOTHING
    return re.compile("|".join(f"(?:{translate(g)})" for g in globs))


@dataclass(frozen=True)
class IgnoreRules:
    patterns: tuple[str, ...] = ()
    # (path regex, name regex) for files and for folders, built once from the patterns
    _files: tuple[re.Pattern, re.Pattern] = field(init=False, repr=False, compare=False)
    _folders: tuple[re.Pattern, re.Pattern] = field(init=False, repr=False, compare=False)
    _seen: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = [(p.endswith("/"), p.rstrip("/")) for p in self.patterns]
        for attr, folders in (("_files", False), ("_folders", True)):
            globs = [g for dir_only, g in rules if folders or not dir_only]
            by_path = _combined([g.lstrip("/") for g in globs])
            by_name = _combined([g for g in globs if not g.startswith("/")])
            object.__setattr__(self, attr, (by_path, by_name))

    @classmethod
    def parse(cls, text: str) -> "IgnoreRules":
        lines = (ln.strip() for ln in text.splitlines())
        patterns = [ln for ln in lines if ln and not ln.startswith("#")]
        return cls(tuple(patterns))

    @classmethod
    def from_bytes(cls, data: bytes) -> "IgnoreRules":
        return cls.parse(data.decode("utf-8", errors="replace"))

    def work(self, paths: list[str]) -> int:
        """What matching these paths costs, roughly (compare with MAX_WORK)."""
        return len(self.patterns) * sum(len(p) for p in paths) if self.patterns else 0

    def matches(self, rel: str) -> bool:
        """One entry: a file path, or a folder path ending in `/` (its parents not checked).
        A pattern matches the whole path, or (unless anchored with `/`) the name alone."""
        by_path, by_name = self._folders if rel.endswith("/") else self._files
        bare = rel.rstrip("/")
        return bool(by_path.match(bare) or by_name.match(bare.rsplit("/", 1)[-1]))

    def ignores(self, path: str) -> bool:
        """A file path: ignored itself or through one of its folders."""
        if not self.patterns:
            return False
        parts = path.split("/")
        folders = ("/".join(parts[:i]) + "/" for i in range(1, len(parts)))
        return any(self._folder_matches(folder) for folder in folders) or self.matches(path)

    def _folder_matches(self, folder: str) -> bool:
        # The files of a deploy share their folders: each folder is matched once.
        found = self._seen.get(folder)
        if found is None:
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen.clear()
            found = self._seen[folder] = self.matches(folder)
        return found
