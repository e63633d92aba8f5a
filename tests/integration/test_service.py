"""`fazt service ...` through the real CLI: --dry-run plans and units, and refusals.

A real install needs systemd as PID 1 and changes the machine (a user, /etc, /opt); the
tests use --dry-run --prefix, which writes the unit under a folder, and check it with
systemd-analyze. The steps themselves are listed in order so a reordering shows up.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import reachable_fazt
from tests.conftest import run_cli


def fake_root(tmp_path: Path) -> Path:
    exe = tmp_path / "opt" / "releases" / "0.1.0" / "bin" / "fazt"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    (tmp_path / "opt" / "current").symlink_to("releases/0.1.0")
    return tmp_path / "opt"


def service(home: Path, *args: str, check: bool = False):
    return run_cli(home, "service", *args, check=check)


def test_dry_run_writes_a_unit_systemd_accepts(fazt_home, tmp_path):
    root = fake_root(tmp_path)
    prefix = tmp_path / "prefix"
    result = service(
        fazt_home, "install", "--domain", "Example.COM", "--email", "me@example.com", "--https",
        "--root", str(root), "--dry-run", "--prefix", str(prefix), check=True,
    )  # fmt: skip
    unit = prefix / "etc" / "systemd" / "system" / "fazt.service"
    text = unit.read_text()
    exec_start = f"ExecStart={root}/current/bin/fazt server start --host 127.0.0.1 --port"
    assert f"{exec_start} 4698 --domain example.com --https" in text
    assert f"ReadWritePaths=/var/lib/fazt {root}" in text.splitlines()
    assert "--https --email me@example.com" in text
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr
    steps = [ln.strip() for ln in result.stdout.splitlines() if ln[:4].strip().endswith(".")]
    assert [s.split(" ", 1)[1].split(" ")[0:2] for s in steps] == [
        ["create", "the"],  # user
        ["create", "the"],  # data dir
        ["give", str(root)],
        ["link", "/usr/local/bin/fazt"],
        ["initialise", "the"],
        ["write", str(unit)],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable"],
        ["systemctl", "restart"],
    ]
    assert f"Unit written to {unit}" in result.stdout


def test_dry_run_without_prefix_prints_the_unit(fazt_home):
    result = service(fazt_home, "install", "--domain", "example.com", "--port", "8080", "--dry-run")
    assert result.returncode == 0
    exec_start = "ExecStart=/opt/fazt/current/bin/fazt server start --host 0.0.0.0 --port 8080"
    assert exec_start in result.stdout and "Type=notify" in result.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--domain", "not a domain"], "domain"),
        (["--domain", "example.com", "--https"], "--https needs a contact address"),
        (["--domain", "example.com", "--https", "--email", "nope"], "--email you@example.com"),
        (["--domain", "example.com", "--prefix", "/tmp/x"], "--prefix only goes with --dry-run"),
        (["--domain", "example.com", "--port", "0"], "0"),
    ],
)
def test_bad_input_is_refused(fazt_home, args, needle):
    result = service(fazt_home, "install", *args)
    assert result.returncode != 0 and needle in result.stderr, result.stderr


def as_nobody() -> list[str]:
    if os.geteuid() != 0:
        return []
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop root in this test"
    return reachable_fazt.NOBODY


@pytest.fixture(scope="module")
def reachable() -> Iterator[Path]:
    """This checkout's fazt where `nobody` can run it, wherever the checkout lives (a
    clone in a private `mktemp -d` folder too): `<folder>/bin/fazt`."""
    if os.geteuid() != 0:
        yield Path(sys.executable).parent.parent  # the venv: bin/fazt
        return
    base = reachable_fazt.build()
    try:
        yield base
    finally:
        shutil.rmtree(base)


@pytest.mark.parametrize("action", [["install", "--domain", "example.com"], ["uninstall"]])
def test_not_root_is_a_clear_error_that_changes_nothing(tmp_path, reachable, action):
    env = {**os.environ, "FAZT_HOME": str(tmp_path / "nobody"), "NO_COLOR": "1", "COLUMNS": "200"}
    result = subprocess.run(
        [*as_nobody(), str(reachable / "bin" / "fazt"), "service", *action],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    assert result.returncode == 1, result.stderr
    assert f"`fazt service {action[0]}` must run as root" in result.stderr


def test_uninstall_dry_run_keeps_data_unless_purge(fazt_home):
    keep = service(fazt_home, "uninstall", "--dry-run", check=True).stdout
    assert "stop and disable fazt" in keep and "/var/lib/fazt" not in keep
    purge = service(fazt_home, "uninstall", "--dry-run", "--purge", check=True).stdout
    assert "delete /var/lib/fazt" in purge and "delete /opt/fazt" in purge


def test_status_when_not_installed(fazt_home):
    if Path("/etc/systemd/system/fazt.service").exists():
        pytest.fail("this machine has a real fazt.service; the test expects none")
    result = service(fazt_home, "status")
    assert result.returncode == 1 and "not installed as a service" in result.stderr


def test_install_steps_for_real_except_systemd(tmp_path, reachable):
    """Run every step up to the unit file for real, as root, for an existing user (nobody)
    in a scratch folder: the database must be created by and belong to the service user
    (the original left root-owned files behind), and the password is shown once."""
    import stat
    import tempfile

    from fazt.service.install import install_steps, run_steps
    from fazt.service.unit import ServiceConfig

    if os.geteuid() != 0:
        pytest.skip("needs root (CI runs as root)")
    base = Path(tempfile.mkdtemp(prefix="fazt-service-", dir="/tmp"))
    try:
        base.chmod(0o755)  # the service user must reach its folders
        root = base / "opt"
        release = root / "releases" / "0.1.0" / "bin"
        release.mkdir(parents=True)
        # Not the venv's own script: nobody may not reach it (a checkout in a private folder).
        shutil.copy(reachable / "bin" / "fazt", release / "fazt")
        (root / "current").symlink_to("releases/0.1.0")
        cfg = ServiceConfig(
            domain="example.com", port=8081, user="nobody", data_dir=base / "data",
            install_root=root,
        )  # fmt: skip
        unit, link = base / "etc" / "fazt.service", base / "bin" / "fazt"
        link.parent.mkdir()
        steps = install_steps(cfg, "0.1.0", unit, link)
        assert [s.description.split()[0] for s in steps[6:]] == ["systemctl"] * 3
        said: list[str] = []
        run_steps(steps[:6], said.append)
        output = "\n".join(said)
        assert "user 'nobody' exists" in output
        assert output.count("Admin password (shown once, save it now):") == 1
        nobody = 65534
        for path in (base / "data", base / "data" / "data.db", base / "data" / "client.db"):
            assert path.stat().st_uid == nobody, path
        for path in (base / "data").iterdir():  # no root-owned -wal/-shm left behind
            assert path.stat().st_uid == nobody, path
        assert stat.S_IMODE((base / "data").stat().st_mode) == 0o750
        assert (root / "releases").stat().st_uid == nobody
        assert os.readlink(link) == str(root / "current" / "bin" / "fazt")
        assert "Type=notify" in unit.read_text()
        # Re-running keeps the database (and does not show a new password).
        said.clear()
        run_steps(steps[:6], said.append)
        assert "keeping the existing database" in "\n".join(said)
        assert "Admin password" not in "\n".join(said)
    finally:
        shutil.rmtree(base)


def test_install_without_a_release_refuses_before_changing_anything(fazt_home, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (CI runs as root)")
    had_user = subprocess.run(["id", "fazt"], capture_output=True).returncode == 0
    missing = tmp_path / "no-release"
    result = service(fazt_home, "install", "--domain", "example.com", "--root", str(missing))
    assert result.returncode == 1
    assert f"no fazt release at {missing}/current/bin/fazt" in result.stderr
    assert "==>" not in result.stdout  # no step started
    assert (subprocess.run(["id", "fazt"], capture_output=True).returncode == 0) == had_user
    assert not missing.exists()
