"""Big-file deploy benchmark: `fazt deploy` of one large file over loopback, streamed
through the resumable upload (/api/uploads), and the resume after a kill at ~50%.

    python bench/upload_big.py [--mb 1024] [--runs 2] [--page-size 65536] [--no-resume]

Prints per run the wall time of the real CLI (hashing, upload, finalize), the throughput,
the peak RSS of the server (supervisor + worker) over its idle RSS and the CPU time of
both, then the anchor (the same bytes inserted into a bare SQLite file on the same disk,
right after), and last the share of the file the CLI sent again after being killed at
~50%. Target (issue 19): a 1 GB file
deploys in <= 15 s. Never fails on timing. `--page-size` creates the database file with
that SQLite page size before the server first opens it (fazt's default is SQLite's, 4096):
the lever measured in docs/benchmarks.md ("Big-file deploys, faster").
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import (
    Fazt,
    children_cpu_seconds,
    cpu_seconds,
    fazt_cmd,
    machine_facts,
    rss_kb,
    terminate_on_sigterm,
)

MiB = 1024 * 1024
TARGET_SECONDS = 15.0


def make_file(folder: Path, size: int) -> str:
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<video src=big.webm></video>")
    digest = hashlib.sha256()
    with (folder / "big.webm").open("wb") as fh:
        for _ in range(size // (8 * MiB)):
            piece = os.urandom(8 * MiB)
            digest.update(piece)
            fh.write(piece)
    return digest.hexdigest()


def timed_deploy(fz: Fazt, folder: Path, site: str) -> tuple[float, int, dict]:
    """Wall time, peak server RSS (KiB) while it ran, and the CLI's JSON (with "_cpu":
    CPU seconds of the CLI and of the server meanwhile)."""
    client, server = children_cpu_seconds(), _tree_cpu(fz.pid)
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb(fz.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        out = fz.cli("deploy", str(folder), "--site", site, "--json", timeout=600)
    finally:
        stop.set()
        sampler.join()
    result = json.loads(out.stdout)
    result["_cpu"] = (children_cpu_seconds() - client, _tree_cpu(fz.pid) - server)
    return time.perf_counter() - started, peak[0], result


def _tree_cpu(pid: int) -> float:
    """CPU seconds of the supervisor and its worker (the worker does the work)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(cpu_seconds(int(c)) for c in children)


def killed_then_resumed(fz: Fazt, folder: Path, size: int) -> tuple[float, float]:
    """(share committed when the CLI was killed, share the rerun sent)."""
    proc = subprocess.Popen(
        fazt_cmd("deploy", str(folder), "--site", "resumed", "--json"),
        env=fz.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    received = 0
    while time.monotonic() < deadline and received < size // 2:
        conn = sqlite3.connect(f"file:{fz.db}?mode=ro", uri=True, timeout=5)
        row = conn.execute("SELECT received FROM uploads").fetchone()
        conn.close()
        received = row[0] if row else 0
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, _, out = timed_deploy(fz, folder, "resumed")
    return received / size, out["uploaded_bytes"] / size


def raw_sqlite(folder: Path, size: int) -> float:
    """The anchor: seconds to insert `size` bytes into a bare SQLite file on the same disk,
    WAL and synchronous=NORMAL like fazt's, one 4 MiB piece per transaction."""
    path = folder / "raw.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE pieces (start INTEGER PRIMARY KEY, data BLOB)")
        piece = os.urandom(4 * MiB)
        started = time.perf_counter()
        for start in range(0, size, len(piece)):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO pieces VALUES (?, ?)", (start, piece))
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def create_db(path: Path, page_size: int) -> None:
    """An empty database file with this page size (fixed once the first table exists)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA page_size = {int(page_size)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE _page_size (x)")
        conn.execute("DROP TABLE _page_size")
    finally:
        conn.close()
    path.chmod(0o600)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--page-size", type=int, default=0, help="SQLite page size of a new db")
    ap.add_argument("--no-resume", action="store_true", help="skip the kill-and-resume run")
    args = ap.parse_args()
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    size = args.mb * MiB
    work = Path(tempfile.mkdtemp(prefix="fazt-bench-upload."))
    try:
        with Fazt() as fz:
            if args.page_size:
                create_db(fz.db, args.page_size)
            fz.start()
            page = sqlite3.connect(fz.db).execute("PRAGMA page_size").fetchone()[0]
            print(f"SQLite page size: {page}")
            idle = rss_kb(fz.pid)
            for run in range(args.runs):
                folder = work / f"site{run}"
                make_file(folder, size)  # fresh bytes: nothing is deduplicated
                secs, peak, out = timed_deploy(fz, folder, f"big{run}")
                assert out["live"] and out["uploaded_bytes"] >= size, out
                print(
                    f"deploy {args.mb} MB: {secs:.1f}s ({size / MiB / secs:.0f} MB/s), server "
                    f"RSS idle {idle // 1024} MB, peak {peak // 1024} MB "
                    f"(+{(peak - idle) // 1024} MB); CPU: CLI {out['_cpu'][0]:.1f}s, server "
                    f"{out['_cpu'][1]:.1f}s; load average {os.getloadavg()[0]:.1f}  "
                    f"target <= {TARGET_SECONDS:.0f}s"
                )
                shutil.rmtree(folder)
                raw = raw_sqlite(fz.home, size)  # alternating with the deploys
                print(f"  anchor: bare SQLite insert of {args.mb} MB: {raw:.1f}s")
            if not args.no_resume:
                folder = work / "resume"
                make_file(folder, size)
                at, sent = killed_then_resumed(fz, folder, size)
                print(f"killed at {at:.0%} committed; the rerun sent {sent:.0%} of the file")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
