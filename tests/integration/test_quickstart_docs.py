"""The README's quick start, the root landing page and the starter code work as written.

The follow-up commands of the README (after `fazt server start`) run verbatim against a
real server; scripts/check-quickstart must run exactly those commands."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FaztServer

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MARKER = "<!-- quickstart: follow-up"


@pytest.fixture
def server(shared_server: FaztServer) -> FaztServer:
    """One server for the module: its tests deploy sites of different names."""
    return shared_server


def readme_follow_up() -> list[str]:
    """The non-empty lines of the first ```sh block after the quick-start marker."""
    lines = README.read_text("utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(MARKER))
    fence = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    end = next(i for i in range(fence + 1, len(lines)) if lines[i].startswith("```"))
    return [line for line in lines[fence + 1 : end] if line.strip()]


def user_folder(tmp_path: Path) -> Path:
    """A folder that looks like the README's checkout: `.venv/bin/fazt` and `examples/`."""
    folder = tmp_path / "checkout"
    (folder / ".venv" / "bin").mkdir(parents=True)
    fazt = folder / ".venv" / "bin" / "fazt"
    fazt.write_text(f'#!/bin/sh\nexec {sys.executable} -m fazt "$@"\n')
    fazt.chmod(0o755)
    (folder / "examples").symlink_to(REPO / "examples")
    return folder


def test_readme_follow_up_commands_work_verbatim(server: FaztServer, tmp_path: Path) -> None:
    commands = readme_follow_up()
    assert commands and all(c.startswith(".venv/bin/fazt ") for c in commands)
    folder = user_folder(tmp_path)
    env = {**os.environ, "FAZT_HOME": str(server.home), "NO_COLOR": "1", "COLUMNS": "200"}
    live = []
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        live += re.findall(r"Live: +http://([a-z0-9-]+)\.localhost", result.stdout)
    assert "my-site" in live  # the README's promise: `-> Live: http://my-site.localhost`
    for site in live:
        page = server.get("/", host=f"{site}.localhost")
        assert page.status_code == 200, site
        assert "<html" in page.text.lower()


def test_check_quickstart_runs_the_readme_commands() -> None:
    printed = subprocess.run(
        [str(REPO / "scripts" / "check-quickstart"), "--print"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert printed == readme_follow_up()


def test_readme_keeps_the_two_first_commands() -> None:
    text = README.read_text("utf-8")
    start = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/fazt server start"
    assert f"```sh\n{start}\n```" in text
    assert "```sh\n./scripts/test\n```" in text
    assert "(examples/README.md)" in text
    assert "(../examples/README.md)" in (REPO / "docs" / "README.md").read_text("utf-8")


def test_landing_page_shows_the_readme_commands(server: FaztServer) -> None:
    page = server.get("/", host="root.localhost")
    assert page.status_code == 200
    assert "Welcome to fazt" in page.text
    shown = re.findall(r"\.venv/bin/fazt [^<\n]+", page.text)
    assert shown, page.text
    follow_up = [c.split("#")[0].strip() for c in readme_follow_up()]
    for command in shown:
        assert command.strip() in follow_up, command
    assert "./my-site" not in page.text


STORAGE_AWAIT = re.compile(r"await\s*\(?\s*(fazt\.storage|kv|ds|s3)\.")


def test_starter_code_calls_storage_synchronously() -> None:
    sources = [*(REPO / "src/fazt/templates").rglob("*.js"), *(REPO / "examples").rglob("*.js")]
    assert sources
    for path in sources:
        text = path.read_text("utf-8")
        assert not STORAGE_AWAIT.search(text), path
        assert "return Promises" not in text, path


def test_api_template_counts_visits(server: FaztServer, tmp_path: Path) -> None:
    server.cli("app", "create", "counter", "--template", "api", "--dir", str(tmp_path / "c"))
    server.cli("deploy", str(tmp_path / "c"))
    host = "counter.localhost"
    assert server.request("POST", "/api/visits", host=host).json() == {"visits": 1}
    assert server.request("POST", "/api/visits", host=host).json() == {"visits": 2}
    assert server.get("/api/visits", host=host).json() == {"visits": 2}


MCP_FROM_CLONE = ".venv/bin/pip install '.[mcp]'"


def test_readme_and_docs_say_how_to_get_fazt_mcp() -> None:
    # The quick start installs `.` without the mcp extra: the docs must say how to add it.
    assert MCP_FROM_CLONE in README.read_text("utf-8")
    assert MCP_FROM_CLONE in (REPO / "docs" / "mcp.md").read_text("utf-8")


def test_fazt_mcp_without_the_sdk_prints_the_clone_command(tmp_path: Path) -> None:
    # sys.modules["mcp"] = None makes `import mcp` fail, as if the extra were not installed.
    code = (
        "import sys; sys.modules['mcp'] = None; sys.argv = ['fazt', 'mcp'];"
        "from fazt.cli.main import main; main()"
    )
    env = {**os.environ, "FAZT_HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "300"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1 and done.stdout == ""
    assert MCP_FROM_CLONE in " ".join(done.stderr.split())


def test_docs_say_which_fazt_v0_9_means() -> None:
    # "fazt 0.9" read as this fazt's version to a newcomer: every mention names the original.
    pages = [README, REPO / "examples" / "README.md", *(REPO / "docs").glob("*.md")]
    for page in pages:
        for number, line in enumerate(page.read_text("utf-8").splitlines(), 1):
            if re.search(r"fazt v?0\.9\b", line):
                assert "original" in line, f"{page.name}:{number}: {line}"
    serverless = (REPO / "docs" / "serverless.md").read_text("utf-8")
    assert '"v0.9" on this page means the original fazt' in serverless
