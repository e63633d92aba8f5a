"""Cold start benchmark: the first request to an app right after its deploy.

    python bench/cold_start.py [--apps 12]

Starts a throwaway fazt, warms its JS workers with one app, then deploys APPS apps one by
one (the real `fazt deploy`) and times the first request to each right after its deploy
went live: the worker loads the deployment's sources, prepares a context and compiles the
code. A realistic mix: a third trivial JSON handlers, a third that `require()` a local
module of ~200 lines, a third that set and get a kv key. Then one warm request each.

Then the breakdown of a cold start's work inside a JS worker, timed in this process with
the same code on the same deployments (median over the apps): the sources read from the
database, a new context with the prelude evaluated, the sources handed to it, the first
request (compiles the app's code, then runs it) and a second one (runs only).

Last line: "cold start after deploy: median X ms, p90 Y ms, max Z ms (target <= 50 ms)".
Never fails on timing; the server it starts is stopped by pid, its temp folder removed.
"""

import argparse
import contextlib
import itertools
import json
import os
import sqlite3
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import quickjs
from benchlib import Fazt, get, machine_facts, terminate_on_sigterm

from fazt.db.connection import open_connection
from fazt.runtime.limits import Limits, MiB
from fazt.runtime.sandbox import PRELUDE, PRELUDE_LINES, Host
from fazt.runtime.sources import load_sources

TARGET_MS = 50
TRIVIAL = """module.exports = function (req) {
  return { ok: true, path: req.path, n: 42 };
};
"""
REQUIRE = """const lib = require("./lib.js");
module.exports = function (req) {
  return { ok: true, total: lib.total([1, 2, 3, 4]) };
};
"""
KV = """module.exports = function (req) {
  fazt.storage.kv.set("hits", { n: 1, path: req.path });
  return { ok: true, n: fazt.storage.kv.get("hits").n };
};
"""


def lib_js() -> str:
    """A module of ~200 lines (many small functions), for the compile cost."""
    parts = [f"function f{i}(x) {{ return x * {i} + {i % 7}; }}" for i in range(200)]
    parts.append("exports.total = (xs) => xs.reduce((a, x) => a + f1(x) + f199(x), 0);")
    return "\n".join(parts) + "\n"


def write_app(folder: Path, kind: int) -> None:
    (folder / "api").mkdir(parents=True)
    source = (TRIVIAL, REQUIRE, KV)[kind % 3]
    (folder / "api" / "x.js").write_text(source)  # serves /api/x
    if source is REQUIRE:
        (folder / "api" / "lib.js").write_text(lib_js())


def timed_get(port: int, host: str) -> float:
    started = time.perf_counter()
    status, body = get(port, "/api/x", host)
    took = (time.perf_counter() - started) * 1000
    assert status == 200 and b'"ok":true' in body.replace(b" ", b""), (status, body)
    return took


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


STEPS = ("read sources", "context + prelude", "hand sources", "first run", "second run")
REQUEST = json.dumps(
    {"id": "b", "method": "GET", "path": "/api/x", "query": {}, "headers": {}, "body": None}
    | {"rawBody": "", "text": "", "params": {}, "ip": "127.0.0.1", "auth": None}
)


def worker_steps(db: Path, site: str) -> list[float]:
    """The milliseconds of each of STEPS for `site`'s live deployment, as a JS worker
    does them (storage calls answer "unavailable": the kv app's first run still compiles
    and runs its code up to the first call)."""
    conn = open_connection(db, readonly=True)
    try:
        dep = conn.execute(
            "SELECT id FROM deployments WHERE site = ? AND state = 'ready' ORDER BY id DESC",
            (site,),
        ).fetchone()["id"]
        ctx_json = json.dumps({"app": site, "env": {}, "version": "bench", "storage": False})
        marks = [time.perf_counter()]
        sources = load_sources(conn, site, dep)
        marks.append(time.perf_counter())
        ctx = quickjs.Context()
        ctx.set_max_stack_size(Limits().stack_bytes)
        ctx.add_callable("__fazt_host", Host().call)
        ctx.eval(PRELUDE)
        marks.append(time.perf_counter())
        ctx.get("__fazt_init")(json.dumps(sources), PRELUDE_LINES)
        ctx.set_memory_limit(Limits().memory_mb * MiB)
        marks.append(time.perf_counter())
        handle = ctx.get("__fazt_handle")
        for _ in range(2):
            # (kv without storage throws: compiled, and ran up to the call)
            with contextlib.suppress(quickjs.JSException):
                handle(REQUEST, ctx_json, "api/x.js")
            marks.append(time.perf_counter())
    finally:
        conn.close()
    return [(b - a) * 1000 for a, b in itertools.pairwise(marks)]


def pool_counters(fz: Fazt) -> str:
    """How the JS workers made the contexts of the first requests (from their spare, or
    cold: the prelude on the request's path), from GET /api/system/health."""
    conn = sqlite3.connect(fz.home / "client.db")  # the CLI's token for this server
    try:
        token = conn.execute("SELECT token FROM peers WHERE name = 'local'").fetchone()[0]
    finally:
        conn.close()
    req = urllib.request.Request(
        f"http://127.0.0.1:{fz.port}/api/system/health",
        headers={"Host": "localhost", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        pool = json.load(resp)["data"]["runtime"].get("js_pool")
    if pool is None:
        return "pool counters: not reported by this version"
    return (
        f"pool counters: contexts from a spare {pool['contexts_spare']}, "
        f"cold {pool['contexts_cold']}, spares prepared {pool['contexts_prepared']}"
    )


def print_breakdown(rows: list[list[float]]) -> None:
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in zip(STEPS, medians, strict=True))
    print(f"worker steps (median ms of {len(rows)} apps, this process): {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=12)
    args = parser.parse_args()
    terminate_on_sigterm()
    print(machine_facts())
    cold, warm = [], []
    with Fazt() as fz, tempfile.TemporaryDirectory(prefix="fazt-bench-cold.") as tmp:
        fz.start()
        write_app(Path(tmp) / "warmup", 0)
        fz.deploy(Path(tmp) / "warmup", "warmup")
        timed_get(fz.port, "warmup.localhost")  # the JS worker processes are up
        for n in range(args.apps):
            folder = Path(tmp) / f"app{n}"
            write_app(folder, n)
            fz.deploy(folder, f"app{n}")
            cold.append(timed_get(fz.port, f"app{n}.localhost"))
            warm.append(timed_get(fz.port, f"app{n}.localhost"))
            kind = ("trivial", "require", "kv")[n % 3]
            print(f"app{n} ({kind}): first {cold[-1]:.1f} ms, next {warm[-1]:.1f} ms")
        print(pool_counters(fz))
        print_breakdown([worker_steps(fz.db, f"app{n}") for n in range(args.apps)])
    print(f"load average: {os.getloadavg()[0]:.2f}")
    print(f"warm: median {statistics.median(warm):.1f} ms, max {max(warm):.1f} ms")
    print(
        f"cold start after deploy: median {statistics.median(cold):.1f} ms, "
        f"p90 {percentile(cold, 0.9):.1f} ms, max {max(cold):.1f} ms (target <= {TARGET_MS} ms)"
    )


if __name__ == "__main__":
    main()
