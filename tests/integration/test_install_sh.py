"""install.sh end to end: releases built by `fazt release build`, served on loopback.

The failure paths use crafted index/signature/artifact files (nothing may be installed);
the happy path installs a real release, re-runs as a no-op, then upgrades in place to a
second release. Runs with --no-apt and an install root and bin dir in a scratch folder.
"""

import hashlib
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from fazt.release import keys, signing
from tests.conftest import free_port, run_cli, wait_for

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "install.sh"
TAG = f"linux-{platform.machine()}"
FIRST, SECOND = "0.1.1", "0.1.2"


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """A static HTTP server on loopback serving a folder: (folder, base URL)."""
    folder = tmp_path_factory.mktemp("www")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("key") / "release.pem"
    return path, signing.generate_key(path)


def run_install(tmp_path: Path, url: str, *args: str, trusted: str = "", timeout: float = 600):
    env = {
        **os.environ,
        "FAZT_RELEASE_URL": url,
        "FAZT_INSTALL_ROOT": str(tmp_path / "opt"),
        "FAZT_BIN_DIR": str(tmp_path / "bin"),
        "FAZT_TRUSTED_KEYS": trusted,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    return subprocess.run(
        ["bash", str(SCRIPT), "--no-apt", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def nothing_installed(tmp_path: Path) -> bool:
    root = tmp_path / "opt"
    versions = list((root / "releases").iterdir()) if (root / "releases").exists() else []
    return not versions and not (root / "current").exists() and not (tmp_path / "bin").exists()


def publish(folder: Path, name: str, artifact: bytes, key_path: Path, *, sha: str = "",
            size: int = 0, version: str = "0.9.0") -> str:  # fmt: skip
    """Write an index (signed with key_path) listing `artifact`; return the index name."""
    (folder / f"{name}.tar.gz").write_bytes(artifact)
    index = {
        "name": "fazt",
        "releases": [
            {
                "version": version,
                "published_at": "2026-01-01T00:00:00Z",
                "artifacts": {
                    TAG: {
                        "file": f"{name}.tar.gz",
                        "url": f"{name}.tar.gz",
                        "size": size or len(artifact),
                        "sha256": sha or hashlib.sha256(artifact).hexdigest(),
                    }
                },
            }
        ],
    }
    data = json.dumps(index).encode()
    (folder / f"{name}.json").write_bytes(data)
    (folder / f"{name}.json.sig").write_bytes(
        signing.sign(data, signing.load_private_key(key_path))
    )
    return f"{name}.json"


# -- the script itself ---------------------------------------------------------------------


def test_embedded_keys_are_the_official_keys():
    text = SCRIPT.read_text()
    embedded = re.search(r'^FAZT_RELEASE_KEYS="([^"]*)"$', text, re.M)
    assert embedded, "install.sh lost its FAZT_RELEASE_KEYS line"
    assert embedded.group(1).split() == keys.OFFICIAL_KEYS


def test_script_is_strict_and_valid_bash():
    text = SCRIPT.read_text()
    assert "set -euo pipefail" in text
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


def test_shellcheck_is_clean():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is needed for this test (Debian package: shellcheck)"
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bad_options(tmp_path):
    for args, needle in [
        (["--bogus"], "unknown option: --bogus"),
        (["--service"], "--service needs --domain D"),
        (["--service", "--domain", "example.com", "--https"], "--https needs --email"),
    ]:
        result = run_install(tmp_path, "http://127.0.0.1:9/releases.json", *args)
        assert result.returncode != 0 and needle in result.stderr, result.stderr
    assert nothing_installed(tmp_path)


# -- refusals: nothing is installed --------------------------------------------------------


def test_unreachable_release_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/releases.json"
    result = run_install(tmp_path, url)
    assert result.returncode == 1
    assert f"error: cannot download {url}" in result.stderr
    assert nothing_installed(tmp_path)


def test_index_signed_by_an_untrusted_key(tmp_path, web, signing_key):
    folder, base = web
    stranger = tmp_path / "stranger.pem"
    signing.generate_key(stranger)
    name = publish(folder, "untrusted", b"artifact", stranger)
    # Trusting our test key does not help: the stranger signed it.
    result = run_install(tmp_path, f"{base}/{name}", trusted=signing_key[1])
    assert result.returncode == 1
    assert "does not verify with a trusted fazt release key" in result.stderr
    assert "refusing to install anything" in result.stderr
    assert nothing_installed(tmp_path)


def test_tampered_index(tmp_path, web, signing_key):
    folder, base = web
    name = publish(folder, "tampered", b"artifact", signing_key[0])
    index = folder / name
    index.write_bytes(index.read_bytes().replace(b"0.9.0", b"0.9.1"))  # after signing
    result = run_install(tmp_path, f"{base}/{name}", trusted=signing_key[1])
    assert result.returncode == 1 and "does not verify" in result.stderr
    assert nothing_installed(tmp_path)


def test_garbage_signature(tmp_path, web, signing_key):
    folder, base = web
    name = publish(folder, "garbage", b"artifact", signing_key[0])
    (folder / f"{name}.sig").write_text("not base64 at all!!\n")
    result = run_install(tmp_path, f"{base}/{name}", trusted=signing_key[1])
    assert result.returncode == 1
    assert "not a base64 signature" in result.stderr or "does not verify" in result.stderr
    assert nothing_installed(tmp_path)


def test_artifact_with_a_wrong_sha256(tmp_path, web, signing_key):
    folder, base = web
    name = publish(folder, "badsha", b"the real bytes", signing_key[0], sha="0" * 64)
    result = run_install(tmp_path, f"{base}/{name}", trusted=signing_key[1])
    assert result.returncode == 1
    assert "the signed index says " + "0" * 64 in result.stderr
    assert "refusing to install it" in result.stderr
    assert nothing_installed(tmp_path)


def test_artifact_with_a_wrong_size(tmp_path, web, signing_key):
    folder, base = web
    name = publish(folder, "badsize", b"12345", signing_key[0], size=4)
    result = run_install(tmp_path, f"{base}/{name}", trusted=signing_key[1])
    assert result.returncode == 1 and "the artifact is 5 bytes" in result.stderr
    assert nothing_installed(tmp_path)


def test_version_not_in_the_index(tmp_path, web, signing_key):
    folder, base = web
    name = publish(folder, "noversion", b"x", signing_key[0])
    result = run_install(tmp_path, f"{base}/{name}", "--version", "9.9.9", trusted=signing_key[1])
    assert result.returncode == 1 and "version 9.9.9 is not in the index" in result.stderr
    assert nothing_installed(tmp_path)


def test_artifact_that_is_not_a_release(tmp_path, web, signing_key):
    folder, base = web
    name = publish(folder, "notar", b"not a tarball", signing_key[0])
    result = run_install(tmp_path, f"{base}/{name}", trusted=signing_key[1])
    assert result.returncode == 1 and "not a valid tar.gz" in result.stderr
    assert not (tmp_path / "opt" / "current").exists()
    assert not (tmp_path / "bin" / "fazt").exists()


# -- the happy path: real releases ---------------------------------------------------------


def build(version: str, key: Path, out: Path, source: Path = REPO) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fazt", "release", "build", "--version", version,
         "--key", str(key), "--out", str(out), "--source", str(source), "--trust-signing-key"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def text_files_mention(folder: Path, needle: str) -> list[str]:
    found = []
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if b"\0" not in data[:1024] and needle.encode() in data:
                found.append(path.name)
    return found


@pytest.mark.timeout(1800)  # two release builds, installs from wheels, an upgrade
def test_install_rerun_upgrade_in_place_then_remote_upgrade(tmp_path, web, signing_key):
    folder, base = web
    out = folder / "real"
    build(FIRST, signing_key[0], out)
    url = f"{base}/real/releases.json"
    root, bin_link = tmp_path / "opt", tmp_path / "bin" / "fazt"

    first = run_install(tmp_path, url, trusted=signing_key[1])
    assert first.returncode == 0, first.stdout + first.stderr
    assert "==> Checking the index's Ed25519 signature" in first.stdout
    assert f"signed by {signing_key[1]}" in first.stdout
    assert os.readlink(root / "current") == f"releases/{FIRST}"
    assert not (root / "previous").exists()
    assert os.readlink(bin_link) == str(root / "current" / "bin" / "fazt")
    version = subprocess.run([str(bin_link), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"fazt {FIRST}"
    assert text_files_mention(root / "releases" / FIRST / "bin", ".partial") == []
    assert not list((root / "releases").glob(".*partial"))

    again = run_install(tmp_path, url, trusted=signing_key[1])
    assert again.returncode == 0, again.stderr
    assert f"fazt {FIRST} is already installed" in again.stdout
    assert "Downloading http" not in again.stdout.replace(url, "")  # no artifact fetched

    build(SECOND, signing_key[0], out)
    upgraded = run_install(tmp_path, url, trusted=signing_key[1])
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert os.readlink(root / "current") == f"releases/{SECOND}"
    assert os.readlink(root / "previous") == f"releases/{FIRST}"
    assert (root / "releases" / FIRST / "bin" / "fazt").exists()  # kept for rollback
    version = subprocess.run([str(bin_link), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"fazt {SECOND}"

    # A pinned older version that is still installed: switched back to, not downloaded.
    pinned = run_install(tmp_path, url, "--version", FIRST, trusted=signing_key[1])
    assert pinned.returncode == 0, pinned.stderr
    assert f"fazt {FIRST} is already installed" in pinned.stdout
    assert os.readlink(root / "current") == f"releases/{FIRST}"
    assert os.readlink(root / "previous") == f"releases/{SECOND}"

    # The installed release serves, and upgrades itself when `fazt remote upgrade` asks
    # (SECOND is installed side by side already, so the server verifies and switches).
    home, laptop = tmp_path / "home", tmp_path / "laptop"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "FAZT_HOME": str(home), "FAZT_INSTALL_ROOT": str(root)}
    with (tmp_path / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [str(bin_link), "server", "start", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:

        def serving() -> str | None:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "server.log").read_text())
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health").json()["data"]["version"]
            except (httpx.HTTPError, ValueError, KeyError):
                return None

        assert wait_for(serving, 60, what="the installed fazt to serve") == FIRST
        conn = sqlite3.connect(home / "client.db")
        try:
            token = conn.execute("SELECT token FROM peers WHERE name = 'local'").fetchone()[0]
        finally:
            conn.close()
        run_cli(laptop, "remote", "add", "box", "--url", f"http://127.0.0.1:{port}",
                "--token", token)  # fmt: skip
        result = run_cli(
            laptop, "remote", "upgrade", "box", "--release-url", url, check=False, timeout=600
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == (
            f"upgraded box from {FIRST} to {SECOND} (verified: /health reports {SECOND})"
        )
        status = json.loads(run_cli(laptop, "remote", "status", "box", "--json").stdout)
        assert status["version"] == SECOND and status["reachable"] and status["token_ok"]
        assert os.readlink(root / "current") == f"releases/{SECOND}"

        # A release that cannot start is rolled back: tests/integration/test_upgrade.py
        # checks that against the API, test_remote_cli.py checks what the CLI prints.
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
