"""Serverless fairness: one app saturated with slow requests, another app's latency.

    python bench/fairness.py [--duration 10] [--slow-conns 64] [--slow-ms 200]
                             [--fast-clients 4] [--interval-ms 20] [--workers N]

Deploys app `slow` (api/main.js busy-loops --slow-ms per request) and app `fast` (a
trivial JSON answer) to a throwaway fazt server with the default runtime settings (or
--workers). wrk keeps --slow-conns connections busy on `slow` for the whole run; after a
second of that, --fast-clients threads each send GET /api to `fast` every --interval-ms
(or at once if the previous answer came later) for --duration seconds and time every
answer. Prints fast's p50/p90/p99/max and its non-200 and failed requests, and slow's
rate and non-2xx count as wrk saw them.

Last line: "fairness: fast p99 = X ms, errors = N (target p99 < 200 ms, 0 errors)". Never
fails on timing; every process it starts is stopped by pid, its temp folder is removed.
"""

import argparse
import http.client
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import Fazt, get, machine_facts, run_group, terminate_on_sigterm

SLOW = """const end = Date.now() + {ms};
let spins = 0;
while (Date.now() < end) spins++;
({{ok: true, spins}})
"""
FAST = '({ok: true, app: "fast"})\n'
TARGET_MS = 200


class FastClient(threading.Thread):
    """GET /api on fast.localhost every `interval` seconds over one keep-alive connection;
    records (latency seconds, status) per request, status 0 for a failed one."""

    def __init__(self, port: int, interval: float, until: float) -> None:
        super().__init__(daemon=True)
        self.port, self.interval, self.until = port, interval, until
        self.results: list[tuple[float, int]] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        due = time.monotonic()
        while due < self.until:
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # pacing, not synchronisation
            started = time.perf_counter()
            try:
                conn.request("GET", "/api", headers={"Host": "fast.localhost"})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            self.results.append((time.perf_counter() - started, status))
            due = max(due + self.interval, time.monotonic())
        conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def write_sites(tmp: Path, slow_ms: int) -> tuple[Path, Path]:
    slow, fast = tmp / "slow", tmp / "fast"
    (slow / "api").mkdir(parents=True)
    (fast / "api").mkdir(parents=True)
    (slow / "api" / "main.js").write_text(SLOW.format(ms=slow_ms))
    (fast / "api" / "main.js").write_text(FAST)
    return slow, fast


def configure(fz: Fazt, workers: int | None) -> None:
    """Initialise the database; with --workers, set runtime_workers before the start."""
    if workers is None:
        return
    import sqlite3

    fz.cli("server", "init", "--db", str(fz.db), "--password", "longenough1",
           "--port", str(fz.port))  # fmt: skip
    conn = sqlite3.connect(fz.db)
    with conn:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ('runtime_workers', ?)", (str(workers),)
        )
    conn.close()


def measure(args: argparse.Namespace, tmp: Path) -> tuple[float, int]:
    slow_site, fast_site = write_sites(tmp, args.slow_ms)
    with Fazt() as fz:
        configure(fz, args.workers)
        fz.start()
        fz.deploy(slow_site, "slow")
        fz.deploy(fast_site, "fast")
        for site in ("slow", "fast"):
            status, body = get(fz.port, "/api", f"{site}.localhost", timeout=15)
            assert status == 200, (site, status, body)
        wrk_seconds = args.duration + 2
        cmd = ["wrk", "-t1", f"-c{args.slow_conns}", f"-d{wrk_seconds}s", "--timeout", "30s",
               "-H", "Host: slow.localhost", f"http://127.0.0.1:{fz.port}/api"]  # fmt: skip
        result: dict[str, subprocess.CompletedProcess] = {}
        load = threading.Thread(
            target=lambda: result.update(out=run_group(cmd, timeout=wrk_seconds + 60))
        )
        load.start()
        time.sleep(1.0)  # let slow's requests fill the workers and the queue first
        until = time.monotonic() + args.duration
        clients = [
            FastClient(fz.port, args.interval_ms / 1000, until) for _ in range(args.fast_clients)
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join(args.duration + 30)
        load.join(wrk_seconds + 70)
        return report(clients, result["out"].stdout, args)


def report(clients: list[FastClient], wrk_out: str, args: argparse.Namespace) -> tuple[float, int]:
    results = [r for c in clients for r in c.results]
    ok = [t * 1000 for t, status in results if status == 200]
    non200 = sum(1 for _, status in results if status not in (0, 200))
    failed = sum(1 for _, status in results if status == 0)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", wrk_out)
    slow_non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", wrk_out)
    slow_total = re.search(r"(\d+) requests in", wrk_out)
    print(
        f"slow: {args.slow_conns} connections, {args.slow_ms} ms per request: "
        f"{rate.group(1) if rate else '?'} req/s, {slow_total.group(1) if slow_total else '?'} "
        f"answers, non-2xx {slow_non2xx.group(1) if slow_non2xx else 0}"
    )
    p99 = percentile(ok, 0.99) if ok else float("nan")
    if ok:
        print(
            f"fast: {len(results)} requests from {len(clients)} clients in {args.duration} s: "
            f"p50 {statistics.median(ok):.1f} ms, p90 {percentile(ok, 0.9):.1f} ms, "
            f"p99 {p99:.1f} ms, max {max(ok):.1f} ms"
        )
    print(f"fast: non-200 answers {non200}, failed requests {failed}")
    return p99, non200 + failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds fast is measured")
    ap.add_argument("--slow-conns", type=int, default=64)
    ap.add_argument("--slow-ms", type=int, default=200)
    ap.add_argument("--fast-clients", type=int, default=4)
    ap.add_argument("--interval-ms", type=int, default=20, help="per fast client")
    ap.add_argument("--workers", type=int, help="runtime_workers (default: the server's)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("fairness: wrk is not installed")
        return 2
    terminate_on_sigterm()
    print(machine_facts())
    tmp = Path(tempfile.mkdtemp(prefix="fazt-bench-fair."))
    try:
        p99, errors = measure(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"fairness: fast p99 = {p99:.0f} ms, errors = {errors} "
        f"(target p99 < {TARGET_MS} ms, 0 errors)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
