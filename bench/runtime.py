"""Serverless benchmark: a trivial JSON handler in fazt vs the same handler file in a plain
Node.js `http` server (../shared/bench/node-handler.js), and the cost of a fresh
QuickJS context per request.

    python bench/runtime.py [--rounds 3] [--duration 5] [--conns 64] [--fresh]

Deploys api/main.js to a throwaway fazt server and runs ../shared/bench/wrk-ratio
(A = fazt, B = node, alternating). --fresh also measures fazt with
runtime_fresh_contexts=1 (a brand-new context for every request) against the same node.
Then, in this process, times context creation, the prelude and one warm request.

Last line: "serverless trivial JSON: fazt/node = X.XX (target >= 0.5)". Never fails on
timing; every process it starts is stopped by pid and its temp folders are removed.
"""

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import (
    SHARED_BENCH,
    Fazt,
    free_port,
    get,
    stop_pid,
    terminate_on_sigterm,
    wrk_ratio,
)

SITE = "bench"
HANDLER = """function handler(req) {
  return { status: 200, headers: { "content-type": "application/json" },
           body: { ok: true, path: req.path, n: 42 } };
}
handler(request);
"""
TARGET = 0.5


def fazt_vs_node(folder: Path, node_port: int, args: argparse.Namespace, fresh: bool):
    with Fazt() as fz:
        if fresh:
            fz.cli(
                "server",
                "init",
                "--db",
                str(fz.db),
                "--password",
                "longenough1",
                "--port",
                str(fz.port),
            )
            conn = sqlite3.connect(fz.db)
            with conn:
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES ('runtime_fresh_contexts', '1')"
                )
            conn.close()
        fz.start()
        fz.deploy(folder, SITE)
        status, body = get(fz.port, "/api/x", f"{SITE}.localhost")
        assert status == 200 and json.loads(body)["ok"] is True, (status, body)
        return wrk_ratio(
            f"http://127.0.0.1:{fz.port}/api/x",
            f"http://127.0.0.1:{node_port}/api/x",
            f"{SITE}.localhost",
            args,
        )


def in_process_costs(n: int = 200) -> dict[str, float]:
    """Microseconds per operation, measured on a thread with an 8 MB stack."""
    import quickjs

    from fazt.runtime.limits import Limits
    from fazt.runtime.prelude import PRELUDE
    from fazt.runtime.sandbox import Job, Prepared

    results: dict[str, float] = {}

    def job() -> Job:
        req = {"id": "r", "method": "GET", "path": "/api/x", "query": {}, "headers": {}}
        ctx = {"app": "a", "env": {}, "version": "x", "storage": False}
        return Job(
            "a",
            (1,),
            "api/main.js",
            True,
            json.dumps(req),
            json.dumps(ctx),
            Limits(),
            time.monotonic() + 5,
            "{}",
            HANDLER,
        )

    def run() -> None:
        started = time.perf_counter()
        for _ in range(n):
            quickjs.Context()
        results["bare context create+free"] = (time.perf_counter() - started) / n * 1e6
        started = time.perf_counter()
        for _ in range(n // 10):
            quickjs.Context().eval(PRELUDE)
        results["context + prelude (lockdown)"] = (time.perf_counter() - started) / (n // 10) * 1e6
        context = Prepared(job())
        started = time.perf_counter()
        for _ in range(n * 10):
            context.run(job())
        results["warm request in a reused context"] = (
            (time.perf_counter() - started) / (n * 10) * 1e6
        )

    old = threading.stack_size()
    threading.stack_size(8 * 1024 * 1024)
    try:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--fresh", action="store_true", help="also measure a context per request")
    args = ap.parse_args()
    for tool in ("wrk", "node"):
        if not shutil.which(tool):
            print(f"runtime: {tool} is not installed")
            return 2
    terminate_on_sigterm()
    tmp = Path(tempfile.mkdtemp(prefix="fazt-bench-rt."))
    node = None
    try:
        folder = tmp / "site"
        (folder / "api").mkdir(parents=True)
        (folder / "api" / "main.js").write_text(HANDLER)
        node_port = free_port()
        node = subprocess.Popen(
            [
                "node",
                str(SHARED_BENCH / "node-handler.js"),
                str(folder / "api" / "main.js"),
                str(node_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if get(node_port, "/api/x", "localhost")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        for label, cost in in_process_costs().items():
            print(f"{label}: {cost:.0f} us")
        fresh = fazt_vs_node(folder, node_port, args, fresh=True) if args.fresh else None
        if args.fresh:
            print(f"serverless trivial JSON, fresh context per request: fazt/node = {fresh}")
        ratio = fazt_vs_node(folder, node_port, args, fresh=False)
        print(f"serverless trivial JSON: fazt/node = {ratio} (target >= {TARGET})")
        return 0
    finally:
        if node is not None:
            stop_pid(node)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
