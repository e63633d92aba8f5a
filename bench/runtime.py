"""Serverless benchmark: a trivial JSON handler in fazt vs the same handler file in a plain
Node.js `http` server (../shared/bench/node-handler.js); the same with one kv set + get
per request (against the same Node baseline); and the cost of the pieces.

    python bench/runtime.py [--rounds 3] [--duration 5] [--conns 64] [--fresh]

Deploys api/main.js to a throwaway fazt server and runs ../shared/bench/wrk-ratio
(A = fazt, B = node, alternating). --fresh also measures fazt with
runtime_fresh_contexts=1 (a brand-new context for every request) against the same node.
Also: the first request after a deploy (cold: a new deployment in a running worker) and
after a server start (the worker processes start), the CPU per request of the server's
event loop, Granian's threads and the JS workers (one more wrk run each), the workers'
RSS, and, in this process, context creation, the prelude, one warm request, require('lodash'),
and the memory of a pooled context (QuickJS's heap, and RSS per context kept).

Last lines: "serverless trivial JSON: fazt/node = X.XX (target >= 0.75)" and
"serverless kv set+get: fazt/node = X.XX (target >= 0.5)". Never fails on timing; every
process it starts is stopped by pid and its temp folders are removed.
"""

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    SHARED_BENCH,
    Fazt,
    free_port,
    get,
    rss_kb,
    stop_pid,
    terminate_on_sigterm,
    thread_cpu_seconds,
    wrk_ratio,
)

SITE = "bench"
HANDLER = """function handler(req) {
  return { status: 200, headers: { "content-type": "application/json" },
           body: { ok: true, path: req.path, n: 42 } };
}
handler(request);
"""
KV_HANDLER = """function handler(req) {
  const kv = fazt.storage.kv;
  kv.set("hits", { n: 1, path: req.path });
  const v = kv.get("hits");
  return { status: 200, headers: { "content-type": "application/json" },
           body: { ok: true, path: req.path, n: v.n } };
}
handler(request);
"""
TARGET = 0.75  # issue 22
KV_TARGET = 0.5  # issue 22


def timed_get(port: int, path: str, host: str) -> float:
    started = time.perf_counter()
    status, body = get(port, path, host)
    assert status == 200, (status, body)
    return (time.perf_counter() - started) * 1000


def worker_rss_mb(db: Path) -> list[float]:
    """RSS of the JS worker processes serving this database."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fazt.runtime.worker" in cmd and str(db).encode() in cmd:
            out.append(rss_kb(int(proc.name)) / 1024)
    return out


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
        host = f"{SITE}.localhost"
        first = timed_get(fz.port, "/api/x", host)
        status, body = get(fz.port, "/api/x", host)
        assert status == 200 and json.loads(body)["ok"] is True, (status, body)
        if fresh:
            return wrk_ratio(
                f"http://127.0.0.1:{fz.port}/api/x",
                f"http://127.0.0.1:{node_port}/api/x",
                host,
                args,
            )
        print(f"first request after server start (workers start): {first:.0f} ms")
        (folder / "api" / "v2.txt").write_text("a new deployment")
        fz.deploy(folder, SITE)
        cold = timed_get(fz.port, "/api/x", host)
        warm = timed_get(fz.port, "/api/x", host)
        print(f"first request after a deploy: {cold:.1f} ms (the next: {warm:.1f} ms)")
        kv_folder = folder.parent / "kv"
        (kv_folder / "api").mkdir(parents=True, exist_ok=True)
        (kv_folder / "api" / "main.js").write_text(KV_HANDLER)
        fz.deploy(kv_folder, "kv")
        status, body = get(fz.port, "/api/x", "kv.localhost")
        assert status == 200 and json.loads(body)["n"] == 1, (status, body)
        trivial = wrk_ratio(
            f"http://127.0.0.1:{fz.port}/api/x", f"http://127.0.0.1:{node_port}/api/x", host, args
        )
        kv = wrk_ratio(
            f"http://127.0.0.1:{fz.port}/api/x",
            f"http://127.0.0.1:{node_port}/api/x",
            "kv.localhost",
            args,
        )
        print(cpu_split(fz, host))
        print(cpu_split(fz, "kv.localhost"))
        rss = ", ".join(f"{mb:.0f}" for mb in worker_rss_mb(fz.db))
        print(f"JS worker processes RSS after the runs: {rss} MB")
        return trivial, kv


def cpu_split(fz: Fazt, host: str, seconds: int = 5) -> str:
    """CPU per request, by part, over one wrk run: the server's event-loop thread, its
    other threads (Granian's), and the JS worker processes. Where the time goes is what
    decides what to work on next (docs/benchmarks.md, "Pipelined JS workers")."""
    (server,) = [int(c) for c in Path(f"/proc/{fz.pid}/task/{fz.pid}/children").read_text().split()]
    js = [
        int(c)
        for c in Path(f"/proc/{server}/task/{server}/children").read_text().split()
        if b"fazt.runtime.worker" in Path(f"/proc/{c}/cmdline").read_bytes()
    ]
    before = {pid: thread_cpu_seconds(pid) for pid in (server, *js)}
    out = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{seconds}s", "-H", f"Host: {host}",
         f"http://127.0.0.1:{fz.port}/api/x"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    after = {pid: thread_cpu_seconds(pid) for pid in (server, *js)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))

    def used(pid: int, threads=None) -> float:
        return sum(
            t - before[pid].get(tid, 0.0)
            for tid, t in after[pid].items()
            if threads is None or threads(tid)
        )

    loop = used(server, lambda tid: tid == server)
    others = used(server, lambda tid: tid != server)
    workers = sum(used(pid) for pid in js)
    per = 1e6 / max(requests, 1)
    return (
        f"CPU per request ({host}, {requests / seconds:.0f} req/s): event loop "
        f"{loop * per:.0f} us, Granian's threads {others * per:.0f} us, "
        f"{len(js)} JS workers {workers * per:.0f} us"
    )


def _job(key: int = 1):
    """A GET /api/x job for app 'a' (without storage), as a worker would run it."""
    from fazt.runtime.sandbox import Job

    req = {"id": "r", "method": "GET", "path": "/api/x", "query": {}, "headers": {}}
    ctx = {"app": "a", "env": {}, "version": "x", "storage": False}
    return Job("a", (key,), "api/main.js", json.dumps(req), json.dumps(ctx), 64, 1 << 20, 1e18)


def _main_as_compiled() -> str:
    """HANDLER as the worker gets it from sources.py: its last line kept, so that main.js
    is compiled once per context."""
    from fazt.runtime.sources import _KEEP_CALL

    return _KEEP_CALL.sub(r"\1__fazt_keep(handler(request));", HANDLER)


LODASH_MAIN = "require('lodash').chunk([1, 2, 3], 2)"


def in_process_costs(n: int = 200) -> dict[str, float]:
    """Microseconds per operation, measured in this process (as inside a JS worker)."""
    import quickjs

    from fazt.runtime.prelude import PRELUDE
    from fazt.runtime.sandbox import Prepared
    from fazt.runtime.worker import JsWorker

    results: dict[str, float] = {}
    host = JsWorker("/nonexistent.db", lambda _: None).host  # stdlib from the package
    started = time.perf_counter()
    for _ in range(n):
        quickjs.Context()
    results["bare context create+free"] = (time.perf_counter() - started) / n * 1e6
    started = time.perf_counter()
    for _ in range(n // 10):
        quickjs.Context().eval(PRELUDE)
    results["context + prelude (lockdown)"] = (time.perf_counter() - started) / (n // 10) * 1e6
    context = Prepared(_job(), {"api/main.js": _main_as_compiled()}, host)
    started = time.perf_counter()
    for _ in range(n * 10):
        context.run(_job())
    results["warm request in a reused context"] = (time.perf_counter() - started) / (n * 10) * 1e6
    started = time.perf_counter()
    context = Prepared(_job(), {"api/main.js": LODASH_MAIN}, host)
    context.run(_job())
    results["first require('lodash') in a new context"] = (time.perf_counter() - started) * 1e6
    started = time.perf_counter()
    for _ in range(n):
        context.run(_job())
    results["request with require('lodash'), warm context"] = (
        (time.perf_counter() - started) / n * 1e6
    )
    return results


def context_memory(n: int = 16) -> dict[str, float]:
    """KB per pooled context: QuickJS's own count (malloc_size) after one request, for the
    trivial handler and with lodash required, and this process's RSS growth per context
    with `n` of them kept (a worker keeps up to CONTEXTS)."""
    from fazt.runtime.sandbox import Prepared
    from fazt.runtime.worker import CONTEXTS, JsWorker

    host = JsWorker("/nonexistent.db", lambda _: None).host

    def prepared(key: int, main: str) -> Prepared:
        context = Prepared(_job(key), {"api/main.js": main}, host)
        context.run(_job(key))
        return context

    def heap_kb(main: str) -> float:
        return prepared(0, main).ctx.memory()["malloc_size"] / 1024

    results = {
        "QuickJS heap of a pooled context (trivial handler)": heap_kb(_main_as_compiled()),
        "QuickJS heap of a pooled context with lodash": heap_kb(LODASH_MAIN),
    }
    before = rss_kb(os.getpid())
    kept = [prepared(key, _main_as_compiled()) for key in range(1, n + 1)]
    growth = (rss_kb(os.getpid()) - before) / len(kept)
    results[f"RSS per pooled context ({n} kept; a worker keeps up to {CONTEXTS})"] = growth
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
        for label, size in context_memory().items():
            print(f"{label}: {size:.0f} KB")
        fresh = fazt_vs_node(folder, node_port, args, fresh=True) if args.fresh else None
        if args.fresh:
            print(f"serverless trivial JSON, fresh context per request: fazt/node = {fresh}")
        ratio, kv = fazt_vs_node(folder, node_port, args, fresh=False)
        print(f"serverless trivial JSON: fazt/node = {ratio} (target >= {TARGET})")
        print(f"serverless kv set+get: fazt/node = {kv} (target >= {KV_TARGET})")
        return 0
    finally:
        if node is not None:
            stop_pid(node)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
