"""Static file benchmark: one 2 KB file from fazt vs the same folder from nginx (1 worker).

    python bench/static.py [--rounds 3] [--duration 5] [--conns 64] [--close]

Deploys the folder to a throwaway fazt server, serves it with ../shared/bench/nginx-static
(override the folder with FAZT_SHARED_BENCH), then runs ../shared/bench/wrk-ratio, which
alternates wrk runs A (fazt) / B (nginx) and prints the median ratio. Keep-alive (wrk's
default) is the target: ratio >= 0.8. --close also measures one new connection per request
(`Connection: close`), alternating the same way; informational only.

Last line: "static 2KB keep-alive: fazt/nginx = X.XX (target >= 0.8)". Never fails on
timing; exits non-zero only if something could not be set up. All processes it starts are
stopped by pid on exit, and its temp folders are removed.
"""

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import (
    SHARED_BENCH,
    Fazt,
    free_port,
    get,
    machine_facts,
    missing_wrk_or_nginx,
    terminate_on_sigterm,
    wrk_ratio,
)

SITE = "bench"
FILE = "index.html"
SIZE = 2048
TARGET = 0.8


def make_site(folder: Path) -> bytes:
    rng = random.Random(2048)
    words = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(300)
    ]
    head, tail = (
        b"<!doctype html><html><head><title>bench</title></head><body><p>",
        b"</p></body></html>\n",
    )
    text = " ".join(rng.choices(words, k=600)).encode()
    body = head + text[: SIZE - len(head) - len(tail)] + tail
    assert len(body) == SIZE
    (folder / FILE).write_bytes(body)
    # Byte-identical to what nginx serves: no analytics script tag in the page.
    (folder / "manifest.json").write_text('{"analytics": false}')
    return body


def nginx_start(folder: Path, port: int) -> Path:
    out = subprocess.run(
        [str(SHARED_BENCH / "nginx-static"), "start", str(folder), str(port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if out.returncode != 0:
        raise RuntimeError(f"nginx-static start failed:\n{out.stdout}{out.stderr}")
    return Path(out.stdout.strip().splitlines()[-1])


def nginx_stop(state: Path) -> None:
    # nginx-static stops nginx by the pid in its state folder, then removes the folder.
    subprocess.run(
        [str(SHARED_BENCH / "nginx-static"), "stop", str(state)], timeout=30, check=False
    )


def wrk_once(url: str, host: str | None, args: argparse.Namespace, close: bool) -> str:
    cmd = ["wrk", "-t1", f"-c{args.conns}", f"-d{args.duration}s", "--latency"]
    if host:
        cmd += ["-H", f"Host: {host}"]
    if close:
        cmd += ["-H", "Connection: close"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=args.duration + 30)
    return out.stdout


def summary(out: str) -> tuple[float, str]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    extra = f", socket errors {errors.group(1).strip()}" if errors else ""
    return (float(rps.group(1)) if rps else 0.0), f"p99 {p99.group(1) if p99 else '?'}{extra}"


def close_ratio(url_a: str, url_b: str, args: argparse.Namespace) -> float | None:
    """Same alternation as wrk-ratio, with `Connection: close` on every request."""
    ratios = []
    for i in range(args.rounds):
        a, a_note = summary(wrk_once(url_a, f"{SITE}.localhost", args, close=True))
        b, b_note = summary(wrk_once(url_b, None, args, close=True))
        print(f"round {i + 1}: A {a:.0f} req/s ({a_note}) | B {b:.0f} req/s ({b_note})")
        if b:
            ratios.append(a / b)
    return statistics.median(ratios) if ratios else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--close", action="store_true", help="also measure without keep-alive")
    args = ap.parse_args()
    if missing_wrk_or_nginx("static"):
        return 2
    if not (SHARED_BENCH / "wrk-ratio").exists():
        print(f"static: no wrk-ratio in {SHARED_BENCH} (set FAZT_SHARED_BENCH)")
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    folder = Path(tempfile.mkdtemp(prefix="fazt-bench-static."))
    folder.chmod(0o755)  # nginx's worker runs as another user
    nginx_state = None
    try:
        body = make_site(folder)
        with Fazt() as fz:
            fz.start()
            fz.deploy(folder, SITE)
            nginx_port = free_port()
            nginx_state = nginx_start(folder, nginx_port)
            url_a = f"http://127.0.0.1:{fz.port}/{FILE}"
            url_b = f"http://127.0.0.1:{nginx_port}/{FILE}"
            for port, host in ((fz.port, f"{SITE}.localhost"), (nginx_port, "localhost")):
                status, got = get(port, f"/{FILE}", host)
                if status != 200 or got != body:
                    raise RuntimeError(f"port {port} answered {status} with {len(got)} bytes")
            print(f"A = fazt  {url_a} (Host: {SITE}.localhost), pid {fz.pid}")
            print(f"B = nginx {url_b} (1 worker)")
            print(f"-- keep-alive, wrk -t1 -c{args.conns}, {args.rounds} x {args.duration}s")
            keepalive = wrk_ratio(url_a, url_b, f"{SITE}.localhost", args)
            closed = None
            if args.close:
                print(f"-- Connection: close, wrk -t1 -c{args.conns}")
                closed = close_ratio(url_a, url_b, args)
    finally:
        if nginx_state is not None:
            nginx_stop(nginx_state)
        shutil.rmtree(folder, ignore_errors=True)
    if closed is not None:
        print(f"static 2KB Connection: close: fazt/nginx = {closed:.2f} (informational)")
    shown = f"{keepalive:.2f}" if keepalive is not None else "n/a"
    print(f"static 2KB keep-alive: fazt/nginx = {shown} (target >= {TARGET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
