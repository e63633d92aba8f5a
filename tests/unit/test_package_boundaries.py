"""Library packages do not reach up into the command line (nor, for auth, into the web
toolkit or the server state): checked on the source, lazy imports included, and on a
fresh interpreter."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import fazt

SRC = Path(fazt.__file__).parent

# package -> module prefixes none of its modules may import, even inside a function
FORBIDDEN = {
    # auth holds the rules; reading them off a request is fazt.api.request_auth's job
    "auth": ("click", "fazt.cli", "fazt.web", "fazt.state", "fazt.api", "fazt.admin"),
    "https": ("click", "fazt.cli"),
    "remote": ("click", "fazt.cli"),
    "mcp": ("fazt.cli",),
}


def imported_names(path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((SRC / package).rglob("*.py")):
        for name in sorted(imported_names(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(SRC)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_imports_in_source(package: str) -> None:
    assert violations(package, FORBIDDEN[package]) == []


def modules_loaded_by(module: str) -> set[str]:
    """Every module a fresh interpreter has loaded after `import module`."""
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("module", ["fazt.remote.deploy", "fazt.mcp.tools"])
def test_nothing_of_the_cli_is_loaded_indirectly(module: str) -> None:
    loaded = modules_loaded_by(module)
    assert {m for m in loaded if m == "fazt.cli" or m.startswith("fazt.cli.")} == set()
