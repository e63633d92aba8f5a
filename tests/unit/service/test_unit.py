"""The generated fazt.service: hardening lines, ExecStart, and systemd's own verdict."""

import shutil
import subprocess
from pathlib import Path

import pytest

from fazt.service.unit import ServiceConfig, read_port, render

HARDENING = [
    "Type=notify",
    "NotifyAccess=main",
    "KillMode=mixed",
    "Restart=always",
    "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "PrivateTmp=yes",
    "ProtectHome=yes",
    "User=fazt",
]


def lines(text: str) -> list[str]:
    return text.splitlines()


def fake_release(root: Path) -> Path:
    """An install root whose current/bin/fazt exists (systemd-analyze verify checks it)."""
    exe = root / "releases" / "0.1.0" / "bin" / "fazt"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    (root / "current").symlink_to("releases/0.1.0")
    return root


def test_hardening_and_writable_paths():
    text = render(ServiceConfig(domain="example.com"), "0.1.0")
    for line in HARDENING:
        assert line in lines(text), line
    # Exactly the two writable paths, once: data and releases.
    writable = [ln for ln in lines(text) if ln.startswith("ReadWritePaths=")]
    assert writable == ["ReadWritePaths=/var/lib/fazt /opt/fazt"]
    assert "Environment=FAZT_HOME=/var/lib/fazt FAZT_INSTALL_ROOT=/opt/fazt" in lines(text)
    # Nothing of the original's failed restart machinery.
    assert "sudo" not in text and "systemd-run" not in text


def test_exec_start_plain_and_https():
    plain = render(ServiceConfig(domain="example.com", port=8080), "0.1.0")
    assert (
        "ExecStart=/opt/fazt/current/bin/fazt server start --host 0.0.0.0 --port 8080 "
        "--domain example.com"
    ) in lines(plain)
    assert read_port(plain) == 8080
    https = render(ServiceConfig(domain="example.com", https=True, email="me@example.com"), "x")
    exec_line = next(ln for ln in lines(https) if ln.startswith("ExecStart="))
    # The app's own port on loopback (for this machine's CLI); the public ports are TLS and
    # the ACME/redirect listener, never one port twice.
    assert exec_line == (
        "ExecStart=/opt/fazt/current/bin/fazt server start --host 127.0.0.1 --port 4698 "
        "--domain example.com --https --email me@example.com --https-host 0.0.0.0 "
        "--http-port 80 --https-port 443"
    )
    assert read_port(https) == 4698


def test_public_url():
    assert ServiceConfig(domain="a.example").public_url == "http://admin.a.example"
    assert ServiceConfig(domain="a.example", port=8080).public_url == "http://admin.a.example:8080"
    cfg = ServiceConfig(domain="a.example", https=True, email="x@y.z")
    assert cfg.public_url == "https://admin.a.example"


@pytest.mark.parametrize("https", [False, True])
def test_systemd_analyze_verify_accepts_it(tmp_path, https):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is required (Debian package: systemd)"
    root = fake_release(tmp_path / "opt")
    cfg = ServiceConfig(
        domain="example.com", https=https, email="me@example.com", install_root=root
    )
    unit = tmp_path / "fazt.service"
    unit.write_text(render(cfg, "0.1.0"))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # Unknown or misspelt directives are only warnings: there must be none.
    assert result.stderr.strip() == "" and result.stdout.strip() == ""


def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path):
    """The check above can fail: a missing ExecStart binary is reported."""
    cfg = ServiceConfig(domain="example.com", install_root=tmp_path / "nothing")
    unit = tmp_path / "fazt.service"
    unit.write_text(render(cfg, "0.1.0"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    assert result.returncode != 0 and "not executable" in result.stderr


def test_exposure_score_is_low(tmp_path):
    root = fake_release(tmp_path / "opt")
    unit = tmp_path / "fazt.service"
    unit.write_text(render(ServiceConfig(domain="example.com", install_root=root), "0.1.0"))
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
    )
    last = [ln for ln in result.stdout.splitlines() if "Overall exposure level" in ln]
    assert last, result.stdout + result.stderr
    score = float(last[0].split(":")[1].split()[0])
    assert score <= 3.0, last[0]  # systemd's scale: 0 (locked down) .. 10 (exposed)
