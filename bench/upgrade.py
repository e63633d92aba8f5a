"""Upgrade benchmark: a real upgrade under a steady request load (DESIGN §7).

    python bench/upgrade.py [--rate 300] [--keep DIR] [--hanging] [--source DIR]

Builds releases 1.0.0 and 1.0.1 of this checkout (`fazt release build`, a throwaway
signing key), installs 1.0.0 as install.sh lays it out, starts it, sends RATE requests per
second (half on keep-alive connections, half on new ones) and calls POST /api/upgrade.
Reports failed requests, the time from the API call until /health reports 1.0.1, and how
long each step took. Targets: zero failed requests; new version serving <= 10 s after
the call. Never fails on timing.

--hanging builds 1.0.1 as a broken release whose worker hangs at start (never reports
ready): reports the time from the API call until the upgrade is `rolled_back` and the
failed requests meanwhile (issue 22: 64 s before, target <= 15 s with 0 failed).
--source builds the releases from another checkout (a before/after comparison).
"""

import argparse
import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from benchlib import fazt_cmd, free_port, machine_facts, mb, rss_kb, stop_pid, terminate_on_sigterm

REPO = Path(__file__).resolve().parents[1]
OLD, NEW = "1.0.0", "1.0.1"


def hanging_copy(source: Path, work: Path) -> Path:
    """A copy of `source` whose worker hangs at start, ignoring SIGTERM."""
    broken = work / "hanging-src"
    broken.mkdir(exist_ok=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(source / name, broken / name)
    shutil.copytree(source / "src", broken / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    with (broken / "src/fazt/server/run.py").open("a") as f:
        f.write("\nimport signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n")
        f.write("time.sleep(3600)  # broken on purpose: this worker never serves\n")
    return broken


def build(work: Path, source: Path, hanging: bool) -> Path:
    key, out = work / "signing.key", work / "releases"
    subprocess.run([*fazt_cmd("release", "keygen", "--out", str(key))], check=True)
    sources = {OLD: source, NEW: hanging_copy(source, work) if hanging else source}
    for version in (OLD, NEW):
        args = ["--version", version, "--key", str(key), "--out", str(out)]
        args += ["--source", str(sources[version])]
        cmd = fazt_cmd("release", "build", *args, "--trust-signing-key")
        subprocess.run(cmd, check=True, capture_output=True)
    return out


def install_old(out: Path, root: Path) -> None:
    sys.path.insert(0, str(REPO / "src"))
    from fazt.release.install import install_artifact, point

    install_artifact(out / f"fazt-{OLD}-linux-{os.uname().machine}.tar.gz", root, OLD, print)
    point(root, "current", OLD)


class Load(threading.Thread):
    """`rate` requests per second, alternating keep-alive and new connections."""

    def __init__(self, port: int, rate: int) -> None:
        super().__init__(daemon=True)
        self.port, self.interval = port, 1.0 / rate
        self.ok, self.failed, self.errors = 0, 0, []
        self.stop = threading.Event()

    def run(self) -> None:
        keepalive = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        next_at = time.monotonic()
        n = 0
        while not self.stop.is_set():
            n += 1
            conn = keepalive if n % 2 else http.client.HTTPConnection("127.0.0.1", self.port)
            try:
                conn.request("GET", "/health", headers={"host": "localhost"})
                response = conn.getresponse()
                response.read()
                self.ok += response.status == 200
                self.failed += response.status != 200
            except (OSError, http.client.HTTPException) as exc:
                self.failed += 1
                self.errors.append(repr(exc))
                if conn is keepalive:
                    keepalive = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            finally:
                if conn is not keepalive:
                    conn.close()
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.monotonic()))


class PeakRss(threading.Thread):
    """The peak RSS of the server's process tree (supervisor, workers, JS workers)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak = pid, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):  # a process exited meanwhile
                self.peak = max(self.peak, rss_kb(self.pid))
            self.stop.wait(0.05)


def api(port: int, method: str, path: str, token: str, body: dict | None = None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"host": "localhost", "authorization": f"Bearer {token}"}
    conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    return json.loads(conn.getresponse().read())


def version(port: int) -> str | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health", headers={"host": "localhost"})
        return json.loads(conn.getresponse().read())["data"]["version"]
    except (OSError, ValueError, KeyError, http.client.HTTPException):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep")
    parser.add_argument("--hanging", action="store_true", help="1.0.1 never becomes ready")
    parser.add_argument("--source", type=Path, default=REPO, help="checkout to build from")
    args = parser.parse_args()
    terminate_on_sigterm()
    print(machine_facts())
    work = args.keep or Path(tempfile.mkdtemp(prefix="fazt-bench-upgrade."))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    out = build(work, args.source, args.hanging)
    print(f"built {OLD} and {NEW} in {time.monotonic() - started:.0f}s")
    root, home = work / "root", work / "home"
    install_old(out, root)
    home.mkdir(exist_ok=True)
    port = free_port()
    env = {**os.environ, "FAZT_HOME": str(home), "FAZT_INSTALL_ROOT": str(root)}
    fazt = str(root / "current" / "bin" / "fazt")
    server = subprocess.Popen(
        [fazt, "server", "start", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    try:
        while version(port) != OLD:
            time.sleep(0.1)
        token = subprocess.run(
            [fazt, "server", "create-key", "--name", "bench", "--scopes", "admin"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        load = Load(port, args.rate)
        load.start()
        time.sleep(2)  # a steady load before the call
        before = rss_kb(server.pid)
        peak = PeakRss(server.pid)
        peak.start()
        url = str(out / "releases.json")
        called = time.monotonic()
        answer = api(port, "POST", "/api/upgrade", token, {"url": url, "version": NEW})
        upgrade_id = answer["data"]["id"]
        while not args.hanging and version(port) != NEW:
            time.sleep(0.05)
        serving_after = time.monotonic() - called
        while not (record := api(port, "GET", f"/api/upgrade/{upgrade_id}", token)["data"])[
            "finished"
        ]:
            time.sleep(0.05 if args.hanging else 0.2)
        finished_after = time.monotonic() - called
        time.sleep(2)
        load.stop.set()
        load.join()
        peak.stop.set()
        after = rss_kb(server.pid)
    finally:
        stop_pid(server, 40)
    print(f"status: {record['status']}: {record['message']}")
    previous = None
    for step in record["steps"]:
        at = datetime.fromisoformat(step["at"].replace("Z", "+00:00"))
        took = f"{(at - previous).total_seconds():6.2f}s" if previous else "     -"
        print(f"  {took}  {step['step']}: {step['message'][:90]}")
        previous = at
    print(f"requests: {load.ok} ok, {load.failed} failed at ~{args.rate}/s {load.errors[:3]}")
    if args.hanging:
        print(f"{record['status']} {finished_after:.1f}s after the API call (target <= 15s)")
    else:
        print(f"new version serving {serving_after:.1f}s after the API call (target <= 10s)")
    print(
        f"RSS of the process tree: {mb(before):.0f} MB before, peak {mb(peak.peak):.0f} MB "
        f"during the overlap (+{mb(peak.peak - before):.0f} MB), {mb(after):.0f} MB after"
    )


if __name__ == "__main__":
    main()
