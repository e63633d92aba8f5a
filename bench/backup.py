"""Backup benchmark: how long an online backup of a large database takes, what it does to
static serving throughput meanwhile, and Litestream replication lag under steady writes.

    python bench/backup.py [--gb 1.0] [--rounds 2] [--lag-samples 20]

Fills a throwaway fazt database with --gb of random blobs (a filler table written straight
into the file, which is the fastest way to get a large database), deploys a 2 KB page,
then per round: wrk against the page for as long as a backup takes with no backup running
(baseline), and again while `fazt backup create` runs. Prints backup seconds, MB/s and the
req/s ratio during/baseline. Then enables `fazt replicate` to a file:// replica, writes a
row every 100 ms and, for --lag-samples of them, measures the time until a new LTX file
at least as new as the write appears in the replica. Never fails on a number; stops every
process it started by pid and removes its temp folders.
"""

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchlib import Fazt, machine_facts, run_group, terminate_on_sigterm

ROW = 1024 * 1024


def fill(db: Path, gb: float) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_fill (id INTEGER PRIMARY KEY, data BLOB)")
    rows = int(gb * 1024)
    for start in range(0, rows, 64):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO bench_fill (data) VALUES (?)",
            [(os.urandom(ROW),) for _ in range(min(64, rows - start))],
        )
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - started


def wrk(port: int, seconds: float) -> float:
    out = run_group(
        [
            "wrk",
            "-t1",
            "-c32",
            f"-d{max(1, round(seconds))}s",
            "-H",
            "Host: page.localhost",
            f"http://127.0.0.1:{port}/",
        ],
        timeout=seconds + 30,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not match:
        raise RuntimeError(f"wrk failed:\n{out.stdout}{out.stderr}")
    return float(match.group(1))


def backup_round(fz: Fazt, folder: Path) -> tuple[float, float, float]:
    """(backup seconds, req/s during the backup, req/s baseline of the same length)."""
    result: dict = {}

    def run() -> None:
        t = time.perf_counter()
        out = fz.cli("backup", "create", "--to", str(folder), "--db", str(fz.db), "--json")
        result["seconds"] = time.perf_counter() - t
        result["manifest"] = json.loads(out.stdout)

    guess = max(2.0, getattr(backup_round, "last", 5.0))
    baseline = wrk(fz.port, guess)
    worker = threading.Thread(target=run)
    worker.start()
    during = wrk(fz.port, guess)
    worker.join()
    backup_round.last = result["seconds"]
    Path(result["manifest"]["path"]).unlink()
    Path(result["manifest"]["path"] + ".json").unlink()
    return result["seconds"], during, baseline


def replication_lag(fz: Fazt, replica: Path, samples: int) -> list[float]:
    conn = sqlite3.connect(fz.db, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_lag (id INTEGER PRIMARY KEY, at REAL)")
    lags: list[float] = []

    def newest() -> float:
        return max((p.stat().st_mtime for p in replica.rglob("*.ltx")), default=0.0)

    deadline = time.monotonic() + 60
    while newest() == 0.0 and time.monotonic() < deadline:  # first snapshot
        time.sleep(0.05)
    for _ in range(samples):
        written = time.time()
        conn.execute("INSERT INTO bench_lag (at) VALUES (?)", (written,))
        end, next_write = time.monotonic() + 30, time.monotonic() + 0.1
        while newest() < written and time.monotonic() < end:
            time.sleep(0.01)
            if time.monotonic() >= next_write:  # steady load: a write every 100 ms
                conn.execute("INSERT INTO bench_lag (at) VALUES (?)", (time.time(),))
                next_write += 0.1
        lags.append(newest() - written)
    conn.close()
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--lag-samples", type=int, default=20)
    args = parser.parse_args()
    terminate_on_sigterm()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian package wrk)")
    print(machine_facts())
    work = Path(tempfile.mkdtemp(prefix="fazt-bench-backup."))
    try:
        with Fazt() as fz:
            fz.cli(
                "server",
                "init",
                "--password",
                "longenough1",
                "--port",
                str(fz.port),
                "--db",
                str(fz.db),
            )
            seconds = fill(fz.db, args.gb)
            size = fz.db.stat().st_size
            print(f"filled {size / 1e9:.2f} GB in {seconds:.1f}s")
            page = work / "page"
            page.mkdir()
            (page / "index.html").write_bytes(b"<p>" + b"x" * 2041 + b"</p>")
            fz.start()
            fz.cli("deploy", str(page), "--site", "page")
            for n in range(args.rounds):
                took, during, baseline = backup_round(fz, work)
                print(
                    f"round {n + 1}: backup {took:.1f}s ({size / took / 1e6:.0f} MB/s); "
                    f"static 2 KB req/s baseline {baseline:.0f}, during backup {during:.0f} "
                    f"(ratio {during / baseline:.2f})"
                )
            replica = work / "replica"
            fz.cli("replicate", "enable", "--to", replica.as_uri(), "--db", str(fz.db))
            lags = replication_lag(fz, replica, args.lag_samples)
            if lags:
                print(
                    f"replication lag (sync-interval 1s, {len(lags)} samples, writes every "
                    f"100 ms): median {statistics.median(lags):.2f}s, max {max(lags):.2f}s"
                )
            fz.cli("replicate", "disable", "--db", str(fz.db))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
