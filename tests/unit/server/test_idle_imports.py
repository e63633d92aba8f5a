"""Idle memory (issue 22): what the supervisor and an idle worker import. Each module
below costs megabytes in a process that lives as long as the server and, at idle, never
uses it; they are imported on first use instead."""

import subprocess
import sys

import pytest

# Never needed by the supervisor: it only starts, watches and signals workers. Its own
# fork/exec, argument parsing and plain classes replace subprocess, argparse and
# dataclasses (with what they pull in: ~5 MB of a process that lives as long as the server).
SUPERVISOR_NEVER = (
    "sqlite3",
    "fazt.db.setting_schema",
    "asyncio",
    "click",
    "httpx",
    "jinja2",
    "subprocess",
    "argparse",
    "dataclasses",
    "inspect",
    "pathlib",
    "ctypes",
    "random",
    "re",
    "fazt.upgrade.request",
)
# Not needed by an idle worker: the CLI, the API client, the dashboard's templates, HTTPS
# certificates and release signing, password hashing, multipart uploads, image variants
# (Pillow), argparse (for a command line that is not the supervisor's), the HTML escaping
# of sign-in pages, HTTP dates, document ids, AWS credentials files; and the JS worker
# process's own code (quickjs, the sandbox), which the server process never runs; the API's
# and the dashboard's handlers (imported at their first request, fazt.web.lazy).
WORKER_LAZY = (
    "click",
    "rich",
    "httpx",
    "jinja2",
    "cryptography",
    "argon2",
    "python_multipart",
    "tarfile",
    "fazt.cli.main",
    "PIL",
    "fazt.hosting.image_render",
    "argparse",
    "html",
    "email",
    "uuid",
    "configparser",
    "calendar",
    "quickjs",
    "fazt.runtime.sandbox",
    "fazt.runtime.worker",
    "fazt.api.keys",
    "fazt.api.deploy",
    "fazt.api.v09_routes",
    "fazt.admin.views",
    "fazt.admin.storage_page",
)


def _modules(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(out.stdout.split())


def test_the_supervisor_imports_nothing_heavy():
    loaded = _modules("import fazt.server.supervisor")
    assert "fazt.server.supervisor" in loaded
    assert sorted(m for m in SUPERVISOR_NEVER if m in loaded) == []


@pytest.mark.parametrize(
    "code",
    [
        # What `python -m fazt server worker` imports before it serves.
        "import fazt.server.worker_main, fazt.server.run, fazt.backup.snapshot, fazt.db.database",
    ],
)
def test_an_idle_worker_imports_no_cli_templates_crypto_or_hashing(code):
    loaded = _modules(code)
    assert "fazt.server.app" in loaded and "granian" in loaded  # it does load the server
    assert sorted(m for m in WORKER_LAZY if m in loaded) == []


def test_python_m_fazt_server_worker_does_not_load_the_cli(tmp_path):
    """The command line every supervisor starts a worker with goes to the lean entry."""
    out = subprocess.run(
        [sys.executable, "-m", "fazt", "server", "worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: fazt server worker"), out.stdout  # argparse, not click
