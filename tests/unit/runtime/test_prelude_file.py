"""The JS prelude is a real .js file: shipped as package data and valid JavaScript."""

import fnmatch
import shutil
import subprocess
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from fazt.runtime.prelude import PRELUDE

ROOT = Path(__file__).resolve().parents[3]
PRELUDE_JS = resources.files("fazt.runtime").joinpath("prelude.js")


def test_prelude_is_read_from_the_js_file() -> None:
    source = PRELUDE_JS.read_text("utf-8")
    assert PRELUDE.strip() == source.strip()
    assert "__fazt_reset" in source  # the real prelude, not an empty placeholder


def test_the_wheel_ships_the_prelude() -> None:
    """A non-editable install has the file only if a package-data pattern matches it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["fazt"]
    assert any(fnmatch.fnmatch("runtime/prelude.js", p) for p in patterns)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_accepts_the_prelude() -> None:
    with resources.as_file(PRELUDE_JS) as path:
        done = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
