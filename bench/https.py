"""HTTPS benchmark: one 2 KB file over TLS from fazt vs nginx with TLS (1 worker each).

    python bench/https.py [--rounds 3] [--duration 5] [--conns 64]

Both serve the same certificate (a self-signed P-256 one, stored in fazt's database as if
an ACME CA had issued it, so no CA is needed) and the same file. Measures:

- keep-alive throughput with ../shared/bench/wrk-ratio (target fazt/nginx >= 0.8);
- new TLS handshakes per second: wrk with `Connection: close`, so every request is a new
  connection and a full handshake (informational).

Last lines: "https 2KB keep-alive: fazt/nginx = X.XX (target >= 0.8)" and
"https new handshakes: fazt/nginx = X.XX". Never fails on timing; exits non-zero only if
something could not be set up. Every process it starts is stopped by pid on exit.
"""

import argparse
import json
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchlib import (
    SHARED_BENCH,
    Fazt,
    free_port,
    machine_facts,
    missing_wrk_or_nginx,
    terminate_on_sigterm,
    wrk_ratio,
)
from static import FILE, SITE, make_site, nginx_stop, summary, wrk_once

from fazt.https import certs

DOMAIN = "bench.test"
TARGET = 0.8


def enable_https(fz: Fazt, https_port: int, http_port: int, folder: Path) -> tuple[Path, Path]:
    # `folder` is private to this run (not the served one).
    """HTTPS settings plus a stored certificate for every name, written while fazt is down."""
    names = [DOMAIN, f"admin.{DOMAIN}", f"{SITE}.{DOMAIN}"]
    cert_pem, key_pem = certs.self_signed(names, days=7)
    info = certs.inspect(cert_pem)
    conn = sqlite3.connect(fz.db)
    try:
        with conn:
            settings = {
                "domain": DOMAIN,
                "https_enabled": "1",
                "https_email": "bench@example.test",
                "https_directory": "https://127.0.0.1:9/unused",  # never asked: nothing due
                "https_host": "127.0.0.1",
                "https_http_port": str(http_port),
                "https_https_port": str(https_port),
            }
            conn.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                list(settings.items()),
            )
            conn.execute(
                "INSERT INTO certificates (names, cert_pem, key_pem, not_before, not_after, "
                "directory, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    json.dumps(names),
                    cert_pem,
                    key_pem,
                    info.not_before.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    info.not_after.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "https://127.0.0.1:9/unused",
                    datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                ),
            )
    finally:
        conn.close()
    cert_path, key_path = folder / "tls-cert.pem", folder / "tls-key.pem"
    cert_path.write_text(cert_pem)
    key_path.write_text(key_pem)
    key_path.chmod(0o644)  # nginx's worker reads it; a throwaway key
    return cert_path, key_path


def wait_tls(port: int, deadline: float = 30) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
                context.wrap_socket(raw, server_hostname=f"{SITE}.{DOMAIN}"),
            ):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers TLS on port {port}")


def nginx_start_tls(folder: Path, port: int, cert: Path, key: Path) -> Path:
    cmd = [str(SHARED_BENCH / "nginx-static"), "start", str(folder), str(port), str(cert), str(key)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"nginx-static start failed:\n{out.stdout}{out.stderr}")
    return Path(out.stdout.strip().splitlines()[-1])


def handshake_ratio(url_a: str, url_b: str, args: argparse.Namespace) -> float | None:
    ratios = []
    for i in range(args.rounds):
        a, a_note = summary(wrk_once(url_a, f"{SITE}.{DOMAIN}", args, close=True))
        b, b_note = summary(wrk_once(url_b, None, args, close=True))
        print(f"handshakes round {i + 1}: A {a:.0f}/s ({a_note}) | B {b:.0f}/s ({b_note})")
        if b:
            ratios.append(a / b)
    ratios.sort()
    return ratios[len(ratios) // 2] if ratios else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=64)
    args = ap.parse_args()
    if missing_wrk_or_nginx("https"):
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    folder = Path(tempfile.mkdtemp(prefix="fazt-bench-https."))
    folder.chmod(0o755)  # nginx's worker runs as another user
    tls_dir = Path(tempfile.mkdtemp(prefix="fazt-bench-tls."))
    tls_dir.chmod(0o755)
    nginx_state = None
    try:
        make_site(folder)
        with Fazt() as fz:
            fz.start()
            fz.deploy(folder, SITE)
            fz.stop()
            https_port, http_port, nginx_port = free_port(), free_port(), free_port()
            cert, key = enable_https(fz, https_port, http_port, tls_dir)
            fz.start()
            wait_tls(https_port)
            nginx_state = nginx_start_tls(folder, nginx_port, cert, key)
            wait_tls(nginx_port)
            url_a = f"https://127.0.0.1:{https_port}/{FILE}"
            url_b = f"https://127.0.0.1:{nginx_port}/{FILE}"
            print(f"A = fazt  {url_a} (Host: {SITE}.{DOMAIN})\nB = nginx {url_b}")
            keep = wrk_ratio(url_a, url_b, f"{SITE}.{DOMAIN}", args)
            hand = handshake_ratio(url_a, url_b, args)
    finally:
        if nginx_state is not None:
            nginx_stop(nginx_state)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(tls_dir, ignore_errors=True)
    verdict = "n/a" if keep is None else f"{keep:.2f}"
    print(f"https 2KB keep-alive: fazt/nginx = {verdict} (target >= {TARGET})")
    print(f"https new handshakes: fazt/nginx = {'n/a' if hand is None else f'{hand:.2f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
