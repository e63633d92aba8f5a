"""Upgrades end to end: real signed releases built from this checkout, installed side by
side, activated by a handover under load, and rolled back when the new one fails."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from fazt.release.install import install_artifact, point, pointed_version
from tests.conftest import FaztServer, free_port, run_cli, wait_for, write_site

REPO = Path(__file__).resolve().parents[2]
OLD, NEW, BROKEN = "1.0.0", "1.0.1", "1.0.2"
# Building three releases and installing them takes minutes on a busy 2-core machine.
pytestmark = pytest.mark.timeout(900)


def _build(source: Path, version: str, key: Path, out: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fazt", "release", "build", "--version", version,
         "--key", str(key), "--out", str(out), "--source", str(source), "--trust-signing-key"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict:
    """Releases OLD and NEW of this checkout, and BROKEN whose worker cannot start."""
    base = tmp_path_factory.mktemp("releases")
    key, out = base / "signing.key", base / "out"
    run_cli(base, "release", "keygen", "--out", str(key))
    _build(REPO, OLD, key, out)
    _build(REPO, NEW, key, out)
    broken = base / "broken-src"
    broken.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, broken / name)
    shutil.copytree(REPO / "src", broken / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    with (broken / "src/fazt/server/run.py").open("a") as f:
        f.write('\nraise SystemExit("this release is broken on purpose")\n')
    _build(broken, BROKEN, key, out)
    # The installed OLD release, copied per test (installing takes ~15 s).
    installed = base / "installed"
    install_artifact(out / f"fazt-{OLD}-linux-{os.uname().machine}.tar.gz", installed, OLD)
    return {"out": out, "installed": installed, "key": key}


@pytest.fixture(scope="module")
def release_source(releases):
    """The release folder served over HTTP by a plain web server on loopback."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=releases["out"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/releases.json"
    wait_for(lambda: _reachable(url), what="the release server")
    yield url
    proc.terminate()
    proc.wait(10)


def _reachable(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def installed_server(releases, tmp_path):
    """A server run from an install root laid out as install.sh does, on release OLD."""
    root = tmp_path / "root"
    (root / "releases").mkdir(parents=True)
    shutil.copytree(
        releases["installed"] / "releases" / OLD, root / "releases" / OLD, symlinks=True
    )
    point(root, "current", OLD)
    home = tmp_path / "home"
    home.mkdir()
    srv = FaztServer(
        home=home,
        port=free_port(),
        db=home / "data.db",
        command=[str(root / "current" / "bin" / "fazt")],
        env={"FAZT_INSTALL_ROOT": str(root)},
    )
    srv.start()
    srv.root = root
    try:
        yield srv
    finally:
        try:
            srv.stop(timeout=40)
        finally:
            srv.kill()


def _version(srv: FaztServer) -> str:
    return srv.get("/health").json()["data"]["version"]


def _poll(srv: FaztServer, token: str, upgrade_id: str, deadline: float = 180) -> dict:
    """GET /api/upgrade/{id} until finished, riding out the handover."""

    def finished():
        try:
            data = srv.api("GET", f"/api/upgrade/{upgrade_id}", token).json()["data"]
        except (httpx.HTTPError, KeyError, ValueError):
            return None
        return data if data["finished"] else None

    try:
        return wait_for(finished, deadline, interval=0.2, what=f"upgrade {upgrade_id} to finish")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nserver output:\n{srv.output()}") from None


class Load:
    """Requests in a loop from a thread: new connections and keep-alive, counting errors."""

    def __init__(self, srv: FaztServer) -> None:
        self.srv, self.ok, self.failures, self.versions = srv, 0, [], set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Load":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as keepalive:
            while not self._stop.is_set():
                for client in (keepalive, None):
                    try:
                        if client is None:
                            r = httpx.get(
                                self.srv.url + "/", headers={"host": "hello.localhost"}, timeout=10
                            )
                        else:
                            r = client.get(self.srv.url + "/health", headers={"host": "localhost"})
                            self.versions.add(r.json()["data"]["version"])
                        if r.status_code != 200:
                            self.failures.append(f"status {r.status_code}")
                        else:
                            self.ok += 1
                    except httpx.HTTPError as exc:
                        self.failures.append(repr(exc))


def test_upgrade_under_load_hands_over_and_commits(installed_server, release_source, tmp_path):
    srv = installed_server
    token = srv.cli(
        "server", "create-key", "--name", "ops", "--scopes", "admin", "--db", str(srv.db)
    ).stdout.strip()
    site = write_site(tmp_path / "site", {"index.html": "<h1>still here</h1>"})
    srv.deploy(site, "hello")
    assert _version(srv) == OLD

    check = srv.api("POST", "/api/upgrade?check=true", token, json={"url": release_source})
    assert check.status_code == 200, check.text
    assert check.json()["data"]["action"] == "check_only"
    assert check.json()["data"]["latest_version"] == BROKEN  # the newest in the index

    with Load(srv) as load:
        started = time.monotonic()
        r = srv.api("POST", "/api/upgrade", token, json={"url": release_source, "version": NEW})
        assert r.status_code == 202, r.text
        upgrade_id = r.json()["data"]["id"]
        again = srv.api("POST", "/api/upgrade", token, json={"url": release_source, "version": NEW})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "UPGRADE_IN_PROGRESS"
        result = _poll(srv, token, upgrade_id)
        elapsed = time.monotonic() - started
    print(f"upgrade took {elapsed:.1f}s; {load.ok} requests, {len(load.failures)} failed")
    assert result["status"] == "committed", result
    assert f"/health reports {NEW}" in result["message"]
    steps = [s["step"] for s in result["steps"]]
    assert steps[:6] == [
        "downloading", "verifying", "installing", "snapshotting", "restarting", "committed"
    ]  # fmt: skip
    assert load.failures == [], load.failures[:5]
    assert load.ok > 50
    assert load.versions == {OLD, NEW}
    assert _version(srv) == NEW
    assert pointed_version(srv.root, "current") == NEW
    assert pointed_version(srv.root, "previous") == OLD
    assert "still here" in srv.get("/", host="hello.localhost").text  # same database
    assert list((srv.home / "backups").glob("*before-upgrade-to-1-0-1*.db"))
    # The supervisor (the pid systemd knows) is the same process, now running NEW's code,
    # and it still supervises the worker it adopted: a clean stop drains and exits 0.
    assert srv.proc.poll() is None
    new_python = str(srv.root / "releases" / NEW / "bin" / "python")
    wait_for(lambda: new_python in _cmdline(srv.proc.pid), 10, what="the supervisor re-exec")
    assert srv.stop(timeout=40) == 0
    assert "fazt stopped" in srv.output()


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


def test_broken_release_is_rolled_back_and_the_old_one_keeps_serving(
    installed_server, release_source
):
    srv = installed_server
    token = srv.cli(
        "server", "create-key", "--name", "ops", "--scopes", "admin", "--db", str(srv.db)
    ).stdout.strip()
    r = srv.api("POST", "/api/upgrade", token, json={"url": release_source, "version": BROKEN})
    assert r.status_code == 202, r.text
    result = _poll(srv, token, r.json()["data"]["id"])
    assert result["status"] == "rolled_back", result
    assert f"{BROKEN} did not start" in result["message"]
    assert _version(srv) == OLD
    assert pointed_version(srv.root, "current") == OLD
    assert "handover (upgrade to 1.0.2) failed" in srv.output()


def test_tampered_artifact_is_refused_before_anything_changes(installed_server, releases, tmp_path):
    srv = installed_server
    token = srv.cli(
        "server", "create-key", "--name", "ops", "--scopes", "admin", "--db", str(srv.db)
    ).stdout.strip()
    tampered = tmp_path / "tampered"
    shutil.copytree(releases["out"], tampered)
    artifact = next(tampered.glob(f"fazt-{NEW}-*.tar.gz"))
    with artifact.open("r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 16)
    url = str(tampered / "releases.json")  # a local path is a valid release source too
    r = srv.api("POST", "/api/upgrade", token, json={"url": url, "version": NEW})
    assert r.status_code == 202, r.text
    result = _poll(srv, token, r.json()["data"]["id"])
    assert result["status"] == "failed"
    assert "does not match the signed index" in result["message"]
    assert not (srv.root / "releases" / NEW).exists()
    assert _version(srv) == OLD


def test_index_signed_by_an_unknown_key_is_refused(installed_server, releases, tmp_path):
    srv = installed_server
    token = srv.cli(
        "server", "create-key", "--name", "ops", "--scopes", "admin", "--db", str(srv.db)
    ).stdout.strip()
    forged = tmp_path / "forged"
    shutil.copytree(releases["out"], forged)
    other_key = tmp_path / "other.key"
    run_cli(tmp_path, "release", "keygen", "--out", str(other_key))
    from fazt.release import signing

    raw = (forged / "releases.json").read_bytes()
    (forged / "releases.json.sig").write_bytes(
        signing.sign(raw, signing.load_private_key(other_key))
    )
    r = srv.api("POST", "/api/upgrade", token, json={"url": str(forged / "releases.json")})
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "SIGNATURE_INVALID"
    index = json.loads(raw)
    index["releases"][0]["artifacts"] = {}  # a changed index with the original signature
    (forged / "releases.json").write_text(json.dumps(index))
    shutil.copy2(releases["out"] / "releases.json.sig", forged / "releases.json.sig")
    r = srv.api(
        "POST", "/api/upgrade?check=true", token, json={"url": str(forged / "releases.json")}
    )
    assert r.json()["error"]["code"] == "SIGNATURE_INVALID"
