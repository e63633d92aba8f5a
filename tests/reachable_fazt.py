"""This checkout's fazt, runnable by any user wherever the checkout lives.

Tests that drop root (to `nobody`) cannot run the checkout's venv when a folder above it
is private (a clone inside a `mktemp -d` folder, mode 0700). `build` lays out, in a
world-readable temporary folder, fazt's package and its installed runtime dependencies
(hard links where possible, copies otherwise) and a `fazt` script that runs them with a
Python interpreter the other user can start.
"""

import importlib.metadata
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import fazt

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def runtime_distributions() -> list[importlib.metadata.Distribution]:
    """fazt's installed dependencies without extras, transitively (fazt itself excluded)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(importlib.metadata.distribution("fazt").requires or [])
    while todo:
        req = Requirement(todo.pop())
        name = canonicalize_name(req.name)
        if name in found or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        found[name] = importlib.metadata.distribution(name)
        todo += found[name].requires or []
    return list(found.values())


def _place(source: Path, target: Path) -> None:
    """Hard-link a world-readable file (free, instant); copy any other, readable."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.stat().st_mode & stat.S_IROTH:
        try:
            os.link(source, target)
            return
        except OSError:  # another file system, or links not allowed
            pass
    shutil.copy2(source, target)
    target.chmod(target.stat().st_mode | stat.S_IROTH | stat.S_IRGRP)


def _interpreter() -> str:
    """A Python of this version that `nobody` can start (the venv's base, or the system's)."""
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [getattr(sys, "_base_executable", sys.executable), f"/usr/bin/{minor}"]
    for python in candidates:
        # Started the way bin/fazt starts it (by a shell), not by setpriv itself.
        probe = subprocess.run(
            [*NOBODY, "/bin/sh", "-c", f"exec '{python}' -S -c pass"], capture_output=True
        )
        if probe.returncode == 0:
            return python
    raise AssertionError(f"no Python that user nobody can start among {candidates}")


def build() -> Path:
    """A world-readable folder with `bin/fazt`; the caller removes it."""
    base = Path(tempfile.mkdtemp(prefix="fazt-reachable-"))
    site = base / "site"
    package = Path(fazt.__file__).parent
    for source in package.rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            _place(source, site / "fazt" / source.relative_to(package))
    for dist in runtime_distributions():
        for rel in dist.files or []:
            source = Path(dist.locate_file(rel))
            if rel.parts[0] != ".." and not rel.name.endswith(".pth") and source.is_file():
                _place(source, site / rel)
    script = base / "bin" / "fazt"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\nPYTHONPATH='{site}' exec '{_interpreter()}' -S -m fazt \"$@\"\n")
    script.chmod(0o755)
    for folder in [base, *(p for p in base.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)
    return base
