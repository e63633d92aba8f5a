"""Follower benchmark: a static file from a follower vs from its primary, and an app
request forwarded by the follower vs sent to the primary directly.

    python bench/follower.py [--rounds 3] [--duration 5] [--conns 64]

Starts a primary replicating to a file:// replica, deploys the 2 KB page of bench/static.py
and a tiny JavaScript function, starts a follower (`fazt standby --from URL --primary URL`)
on another port, then runs ../shared/bench/wrk-ratio: A = follower, B = primary, rounds
alternating. On one machine both share the CPUs, so this measures what a follower costs
per request, not the capacity a second machine adds (that is the sum of both).

Last lines: "follower static 2KB: follower/primary = X.XX" and "follower app (forwarded):
follower/primary = X.XX". Never fails on timing. Every process it starts is stopped by pid.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    SHARED_BENCH,
    Fazt,
    fazt_cmd,
    free_port,
    get,
    machine_facts,
    run_group,
    stop_pid,
    terminate_on_sigterm,
)
from static import FILE, SITE, make_site

HELLO = "module.exports = async function (req) { return {ok: true}; };\n"


def start_follower(home: Path, replica: str, primary_port: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAZT_")}
    env["FAZT_HOME"] = str(home)
    log = open(home / "follower.log", "ab")  # noqa: SIM115 - owned by the child
    args = ["standby", "--from", replica, "--db", str(home / "data.db"), "--port", str(port)]
    args += ["--primary", f"http://127.0.0.1:{primary_port}"]
    proc = subprocess.Popen(
        fazt_cmd(*args), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    log.close()
    return proc, port


def wait_serving(port: int, path: str, host: str, proc: subprocess.Popen, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the follower exited early")
        try:
            if get(port, path, host, timeout=1)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the follower did not serve {host}{path} within {limit}s")


def ratio(url_a: str, url_b: str, host: str, args: argparse.Namespace) -> float | None:
    cmd = [str(SHARED_BENCH / "wrk-ratio"), "--rounds", str(args.rounds)]
    cmd += ["--duration", str(args.duration), "--conns", str(args.conns)]
    cmd += ["--host-a", host, "--host-b", host, url_a, url_b]
    out = run_group(cmd, timeout=30 + (2 * args.rounds + 2) * (args.duration + 10))
    sys.stdout.write(out.stdout + out.stderr)
    found = re.search(r"ratio A/B = ([\d.]+)", out.stdout)
    return float(found.group(1)) if found else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=64)
    args = ap.parse_args()
    if not shutil.which("wrk") or not (SHARED_BENCH / "wrk-ratio").exists():
        print("follower: needs wrk and ../shared/bench/wrk-ratio")
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    folder = Path(tempfile.mkdtemp(prefix="fazt-bench-follower."))
    follower_home = Path(tempfile.mkdtemp(prefix="fazt-bench-follower-home."))
    replica = (folder / "replica").as_uri()
    follower = None
    try:
        site = folder / "site"
        (site / "api").mkdir(parents=True)
        make_site(site)
        (site / "api" / "hello.js").write_text(HELLO)
        with Fazt() as fz:
            fz.cli("replicate", "enable", "--replica", replica, "--db", str(fz.db))
            fz.start()
            fz.deploy(site, SITE)
            host = f"{SITE}.localhost"
            follower, port = start_follower(follower_home, replica, fz.port)
            wait_serving(port, f"/{FILE}", host, follower, 60)
            # The first forward loads the HTTP client and starts a JS worker: not measured.
            wait_serving(port, "/api/hello", host, follower, 60)
            print(f"A = follower port {port} (pid {follower.pid}), B = primary port {fz.port}")
            print(f"load average: {os.getloadavg()}")
            print(f"-- static {FILE} (2 KB), keep-alive, wrk -t1 -c{args.conns}")
            static = ratio(f"http://127.0.0.1:{port}/{FILE}", f"http://127.0.0.1:{fz.port}/{FILE}",
                           host, args)  # fmt: skip
            print(f"-- app GET /api/hello (the follower forwards it), wrk -t1 -c{args.conns}")
            app = ratio(f"http://127.0.0.1:{port}/api/hello", f"http://127.0.0.1:{fz.port}/api/hello",
                        host, args)  # fmt: skip
            print(f"load average: {os.getloadavg()}")
            stop_pid(follower)
    finally:
        if follower is not None:
            stop_pid(follower)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(follower_home, ignore_errors=True)

    def shown(x):
        return "n/a" if x is None else f"{x:.2f}"

    print(f"follower static 2KB: follower/primary = {shown(static)}")
    print(f"follower app (forwarded): follower/primary = {shown(app)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
