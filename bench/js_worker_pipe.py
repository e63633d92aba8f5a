"""A JS worker process on its own: its CPU per request, fed over its pipes as the server
feeds it (no server, no HTTP), optionally against another source tree.

    python bench/js_worker_pipe.py [--handler trivial|kv] [--runs 3] [--requests 20000]
        [--depth 4] [--base /path/to/other/checkout/src]

Deploys bench/runtime.py's handler to a throwaway fazt (for its database), stops it, then
starts `python -m fazt.runtime.worker DB --kv-via-server` and keeps `--depth` request
frames in its stdin (the server's pipelining), answering its kv-write frames as the
server would (every write committed at once). Prints the worker's CPU time per request
(user + system, from /proc) and its requests per second, the median of the runs; with
--base, A (this checkout) and B (BASE, run with PYTHONPATH=BASE) alternate. What the
server's event loop costs is not in these numbers (bench/runtime.py, bench/kv_ab.py).
Never fails on timing; every worker is stopped by closing its stdin, then by pid.
"""

import argparse
import json
import os
import sqlite3
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

from benchlib import Fazt, stop_pid, terminate_on_sigterm
from runtime import HANDLER, KV_HANDLER

LENGTH = struct.Struct(">I")
HEADERS = {  # a browser's few: what the request JSON carries besides the path
    "host": "bench.localhost",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
    "accept": "*/*",
    "accept-language": "en-US,en;q=0.9",
}


class Worker:
    """One worker process and the frames it is sent."""

    def __init__(self, db: Path, dep: int, tree: str | None) -> None:
        env = dict(os.environ)
        if tree:
            env["PYTHONPATH"] = tree
        cmd = [sys.executable, "-m", "fazt.runtime.worker", str(db), "--kv-via-server"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.head = json.dumps(
            {"app": "bench", "dep": dep, "entry": "api/main.js", "mem": 64, "stack": 262144}
        )
        self.request = json.dumps(
            {"auth": None, "id": "0001", "method": "GET", "path": "/api/x", "query": {},
             "headers": HEADERS, "body": None, "rawBody": "", "text": "", "params": {},
             "ip": "127.0.0.1"}
        )  # fmt: skip
        self.context = json.dumps({"app": "bench", "env": {}, "version": "1", "storage": True})
        self.writes = 0  # kv writes received (and taken as committed at once)
        if self.read() != b"R":
            raise RuntimeError("the worker did not say it was ready")

    def read(self) -> bytes:
        out = self.proc.stdout
        (size,) = LENGTH.unpack(out.read(4))
        return out.read(size)

    def send(self, text: str) -> None:
        data = text.encode()
        self.proc.stdin.write(LENGTH.pack(len(data)) + data)

    def request_frame(self) -> str:
        deadline = time.monotonic() + 30
        return f"{self.head}\0{deadline!r} 0:{self.writes}\0{self.request}\0{self.context}"

    def pump(self, n: int, depth: int) -> None:
        """Send n requests, `depth` at a time, until every answer is back."""
        sent = answered = 0
        while answered < n:
            while sent - answered < depth and sent < n:
                self.send(self.request_frame())
                sent += 1
            self.proc.stdin.flush()
            frame = self.read()
            kind = frame[:1]
            if kind == b"D":
                answered += 1
            elif kind == b"W":
                self.writes += 1
            elif kind == b"F":  # it waits for its writes: all committed
                self.send(f"A{self.writes}")
                self.proc.stdin.flush()

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.stdin.close()
        stop_pid(self.proc, grace=5)


def one_run(db: Path, dep: int, tree: str | None, args: argparse.Namespace) -> tuple:
    worker = Worker(db, dep, tree)
    try:
        worker.pump(500, args.depth)  # warm: its context built, its caches filled
        cpu, started = worker.cpu_seconds(), time.perf_counter()
        worker.pump(args.requests, args.depth)
        elapsed, cpu = time.perf_counter() - started, worker.cpu_seconds() - cpu
    finally:
        worker.stop()
    return cpu / args.requests * 1e6, args.requests / elapsed


def main() -> int:
    terminate_on_sigterm()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--handler", choices=["trivial", "kv"], default="trivial")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--base", help="another checkout's src folder, run as B")
    args = ap.parse_args()
    trees = {"A": None} if not args.base else {"A": None, "B": str(Path(args.base).resolve())}
    with Fazt() as fz:
        fz.start()
        folder = fz.home / "site"
        (folder / "api").mkdir(parents=True)
        source = HANDLER if args.handler == "trivial" else KV_HANDLER
        (folder / "api" / "main.js").write_text(source)
        fz.deploy(folder, "bench")
        fz.stop()
        with sqlite3.connect(fz.db) as conn:
            dep = conn.execute("SELECT max(id) FROM deployments").fetchone()[0]
        results: dict[str, list[tuple]] = {name: [] for name in trees}
        for run in range(args.runs):
            order = list(trees) if run % 2 == 0 else list(reversed(trees))
            for name in order:
                results[name].append(one_run(fz.db, dep, trees[name], args))
    for name, runs in results.items():
        cpu = statistics.median(c for c, _ in runs)
        rate = statistics.median(r for _, r in runs)
        where = "this checkout" if trees[name] is None else trees[name]
        shown = ", ".join(f"{c:.0f}" for c, _ in runs)
        print(f"{args.handler} {name} ({where}): worker CPU {cpu:.1f} us/request "
              f"(runs {shown}), {rate:.0f} requests/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
