"""Which paths a deployment may publish: the one policy for ZIP deploys, incremental
deploys and the CLI's folder walk.

- Junk (`__MACOSX/`, `.DS_Store`, `Thumbs.db`) is dropped silently.
- Never published, whatever the request says: anything under a `.git` or `.ssh` folder
  and `.env*` files or folders (`.env`, `.env.local`, `.envrc`). No flag publishes them:
  a static host serving them is always a leak, never a feature.
- Other dotfiles (a path segment starting with `.`) only when the deploy asks for them
  (`include_dotfiles`); `.well-known/` at the root is always published (ACME, security.txt).
- What a `.faztignore` lists (the file itself is never published).

Everything refused except junk is reported back to the user as `skipped`. Separately,
`secret_looking` names files (keys, credentials) the CLI warns about before it publishes
them: the server cannot tell a public certificate from a private key by its name.
"""

import re
from dataclasses import dataclass, field
from fnmatch import translate

from fazt.hosting.ignore import IGNORE_FILE, IgnoreRules

JUNK_PREFIXES = ("__MACOSX/",)
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db"})
WELL_KNOWN = ".well-known"
NEVER_SEGMENTS = (".git", ".ssh", ".env*")
SECRET_SEGMENTS = (".npmrc", ".pypirc", ".netrc", ".htpasswd", ".aws", ".docker", ".gnupg")
SECRET_NAMES = ("*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*", "id_ecdsa*")
SECRET_NAMES += ("id_ed25519*",)

# Why a path is not published (None: it is).
JUNK, NEVER, DOTFILE, IGNORED = "junk", "never", "dotfile", "ignored"


def _any_of(globs: tuple[str, ...]) -> re.Pattern:
    """One compiled regex for several globs: a deploy checks every segment of every path."""
    return re.compile("|".join(f"(?:{translate(g)})" for g in globs))


_NEVER = _any_of(NEVER_SEGMENTS)
_SECRET_SEGMENT = _any_of(NEVER_SEGMENTS + SECRET_SEGMENTS)
_SECRET_NAME = _any_of(SECRET_NAMES)


@dataclass(frozen=True)
class PublishingPolicy:
    include_dotfiles: bool = False
    ignore: IgnoreRules = field(default_factory=IgnoreRules)

    def refusal(self, path: str) -> str | None:
        """Why `path` (a file, or a folder ending in `/`) is not published; None if it is.
        A folder's verdict holds for everything under it, except IGNORED (.faztignore
        patterns like `*.log` may match files only)."""
        if is_junk(path):
            return JUNK
        segments = path.rstrip("/").split("/")
        dotted = [(i, seg) for i, seg in enumerate(segments) if seg[:1] == "."]
        if any(_NEVER.match(seg) for _, seg in dotted):
            return NEVER
        if path == IGNORE_FILE:
            return IGNORED
        if not self.include_dotfiles and any(i or seg != WELL_KNOWN for i, seg in dotted):
            return DOTFILE
        if self.ignore.matches(path) if path.endswith("/") else self.ignore.ignores(path):
            return IGNORED
        return None

    def split(self, paths: list[str]) -> tuple[list[str], list[str]]:
        """(published, skipped): junk appears in neither; skipped is sorted."""
        published, skipped = [], []
        for path in paths:
            reason = self.refusal(path)
            if reason is None:
                published.append(path)
            elif reason != JUNK:
                skipped.append(path)
        return published, sorted(skipped)


def is_junk(path: str) -> bool:
    """Operating-system litter (Finder and Explorer metadata), dropped without a word."""
    return path.startswith(JUNK_PREFIXES) or path.rstrip("/").rsplit("/", 1)[-1] in JUNK_NAMES


def secret_looking(path: str) -> bool:
    """Key files and credentials by name: published only after a warning (CLI)."""
    segments = path.rstrip("/").split("/")
    named = _SECRET_NAME.match(segments[-1])
    return bool(named) or any(_SECRET_SEGMENT.match(seg) for seg in segments)
