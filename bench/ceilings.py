"""Ceilings of the stack: what a bare Granian RSGI server on uvloop (the stack fazt runs on,
with no fazt code at all) reaches against the anchors fazt's targets are ratios to.

    apt-get install -y python3.11-doc wrk nginx-light nodejs
    python bench/ceilings.py [--rounds 3] [--duration 5] [--conns 64] [--only site,tls,js]
                             [--docs DIR]

Each case runs ../shared/bench/wrk-ratio (wrk -t1, alternating rounds, median ratio) with
A = a small server from bench/bare/ (run with this Python) and B = the anchor:

- site: Debian's Python 3.11 HTML docs (copied as bench/site.py does) at random paths
  (random-paths.lua) vs ../shared/bench/nginx-static (1 worker); the bare server six
  ways: every file in memory (`response_bytes`), each file read per request (open + fstat
  + pread), Granian's own Rust static file serving (`static_path_mount`, no Python), and
  `response_file` per request; and a plain uvloop server without Granian
  (bench/bare/uvloop_static.py), from memory and read per request;
- tls: one 2 KB file over TLS keep-alive (a self-signed P-256 certificate made here) vs
  nginx-static with TLS;
- js: bench/runtime.py's trivial JSON handler in QuickJS, in the event loop's thread and
  in 1 and 3 worker processes over pipes, and in 3 processes running it in fazt's own
  sandbox (fazt's JavaScript contract, the rest bare), vs ../shared/bench/node-handler.js.

For each case it also prints the CPU time per answer of each side's process tree (which
barely moves when other work shares the machine, unlike req/s). fazt's own ratios for the
same cases: bench/site.py, bench/https.py, bench/runtime.py.

Last line: "ceilings: site mem X.XX pread X.XX mount X.XX file X.XX uvmem X.XX uvpread X.XX
x nginx; tls X.XX x nginx; js loop X.XX w1 X.XX w3 X.XX w3fazt X.XX x node" (n/a: not run or no
result). Never fails on timing; exits 2 when a tool is missing, 1 when something could
not be set up. Every process it starts is stopped by pid (also on SIGTERM), its temp
folders are removed.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

from benchlib import (
    SHARED_BENCH,
    _children,
    free_port,
    get,
    machine_facts,
    run_group,
    stop_pid,
    terminate_on_sigterm,
    tree_cpu_seconds,
)
from runtime import HANDLER
from static import FILE, make_site, nginx_start, nginx_stop

BENCH = Path(__file__).resolve().parent
BARE = BENCH / "bare"
DOCS = Path("/usr/share/doc/python3.11/html")
CASES = ("site", "tls", "js")
SITE_MODES = {
    "mem": "every file in memory, response_bytes",
    "pread": "each file read per request (open+fstat+pread)",
    "mount": "Granian's Rust static files (static_path_mount)",
    "file": "response_file per request",
    "uvmem": "plain uvloop server, no Granian: every file in memory",
    "uvpread": "plain uvloop server, no Granian: read per request",
}
# QuickJS in the event loop's thread, in N processes, and in 3 processes running the
# handler in fazt's own sandbox (its prelude and per-request scope: fazt's JS contract)
JS_WORKERS = {"loop": [0], "w1": [1], "w3": [3], "w3fazt": [3, "--fazt"]}
JS_LABELS = {
    "loop": "QuickJS in the event loop's thread",
    "w1": "QuickJS in 1 worker process (pipes)",
    "w3": "QuickJS in 3 worker processes (pipes)",
    "w3fazt": "3 worker processes running fazt's sandbox",
}
WARMUP = 2  # seconds of each side's warm-up run in wrk-ratio (not in its rounds)


def copy_docs(source: Path, folder: Path) -> list[str]:
    """bench/site.py's copy_docs (loaded by path: the name `site` is Python's own module)."""
    spec = importlib.util.spec_from_file_location("bench_site", BENCH / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.copy_docs(source, folder)


def missing_tools(cases: list[str], docs: Path) -> str | None:
    """What is not installed for these cases, as a message (None: all there)."""
    if "site" in cases and not docs.is_dir():
        return f"no {docs} (apt-get install -y python3.11-doc)"
    needs = {"wrk": "wrk", "nginx": "nginx-light", "node": "nodejs"}
    tools = ["wrk"] + (["nginx"] if {"site", "tls"} & set(cases) else [])
    tools += ["node"] if "js" in cases else []
    for tool in tools:
        if not shutil.which(tool):
            return f"{tool} is not installed (apt-get install -y {needs[tool]})"
    for module in ("granian", "uvloop", "quickjs", "fazt"):
        if importlib.util.find_spec(module) is None:
            return f"no {module} in {sys.executable} (run this with fazt's venv python)"
    if not (SHARED_BENCH / "wrk-ratio").exists():
        return f"no wrk-ratio in {SHARED_BENCH} (set FAZT_SHARED_BENCH)"
    return None


@contextlib.contextmanager
def serving(cmd: list[str], log: Path, ready: Callable[[], bool]) -> Iterator[int]:
    """Run cmd until the block ends; yields its pid once `ready()` (polled, 30 s deadline).
    On the way out it is stopped by pid, and so are its children (the JS workers)."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _answers(ready):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(cmd)} did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield proc.pid
    finally:
        children = []
        with contextlib.suppress(OSError):  # it may have exited already
            children = _children(proc.pid)
        stop_pid(proc)
        for pid in children:  # they exit once their parent's pipes close
            _stop_orphan(pid)


def _answers(ready: Callable[[], bool]) -> bool:
    try:
        return ready()
    except OSError:
        return False


def _stop_orphan(pid: int, grace: float = 5.0) -> None:
    deadline = time.monotonic() + grace
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)


def bare(script: str, *args: str) -> list[str]:
    return [sys.executable, str(BARE / script), *args]


def compare(
    url_a: str, url_b: str, pids: tuple[int, int], args: argparse.Namespace, lua_paths=None
) -> tuple[float | None, list[float | None]]:
    """wrk-ratio A vs B (echoed); returns the ratio and each side's CPU us per answer."""
    cmd = [
        str(SHARED_BENCH / "wrk-ratio"),
        *("--rounds", str(args.rounds), "--duration", str(args.duration)),
        *("--conns", str(args.conns)),
    ]
    if lua_paths is not None:
        cmd += ["--lua", str(SHARED_BENCH / "random-paths.lua"), "--lua-arg", str(lua_paths)]
    before = [tree_cpu(pid) for pid in pids]
    out = run_group([*cmd, url_a, url_b], timeout=60 + (2 * args.rounds + 2) * (args.duration + 10))
    after = [tree_cpu(pid) for pid in pids]
    sys.stdout.write(out.stdout + out.stderr)
    found = re.search(r"ratio A/B = ([\d.]+)", out.stdout)
    return (float(found.group(1)) if found else None), cpu_per_answer(
        out.stdout, args, before, after
    )


def tree_cpu(pid: int) -> float | None:
    """CPU seconds of a process tree; None if the process is gone (it crashed)."""
    try:
        return tree_cpu_seconds(pid)
    except OSError:
        return None


def cpu_per_answer(wrk_out: str, args, before: list, after: list) -> list[float | None]:
    """CPU us per answer of each side over the whole wrk-ratio run: its rounds' answers
    plus the warm-up's (estimated at the side's median rate), as the CPU covers both."""
    rates: dict[str, list[float]] = {"A": [], "B": []}
    for side, rps in re.findall(r"([AB]) (\d+) req/s", wrk_out):
        rates[side].append(float(rps))
    out = []
    for i, side in enumerate("AB"):
        if not rates[side] or before[i] is None or after[i] is None:
            out.append(None)
            continue
        answers = sum(rates[side]) * args.duration + statistics.median(rates[side]) * WARMUP
        out.append((after[i] - before[i]) / answers * 1e6)
    return out


def same_bytes(port_a: int, port_b: int, paths: list[str], tls: bool = False) -> None:
    """Both sides answer these paths 200 with the same body, or the comparison is void."""
    for path in paths:
        a, b = fetch(port_a, path, tls), fetch(port_b, path, tls)
        if a[0] != 200 or a != b:
            raise RuntimeError(f"{path}: A {a[0]} ({len(a[1])} B), B {b[0]} ({len(b[1])} B)")


def fetch(port: int, path: str, tls: bool = False) -> tuple[int, bytes]:
    if not tls:
        return get(port, path, "localhost")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context) as resp:
        return resp.status, resp.read()


def site_case(tmp: Path, args: argparse.Namespace, results: dict) -> None:
    folder = tmp / "html"
    paths = copy_docs(args.docs, folder)
    size = sum((folder / unquote(p[1:])).stat().st_size for p in paths)
    print(f"\n== site: {len(paths)} files, {size / 1e6:.1f} MB from {args.docs}, random paths")
    paths_file = tmp / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    nginx_port = free_port()
    state = nginx_start(folder, nginx_port)
    try:
        nginx_pid = int((state / "nginx.pid").read_text())
        for mode, label in SITE_MODES.items():
            plain = mode.startswith("uv")  # bench/bare/uvloop_static.py's modes
            print(f"-- A = {'bare' if plain else 'bare Granian'}, {label}; B = nginx (1 worker)")
            port = free_port()
            script, arg = ("uvloop_static.py", mode[2:]) if plain else ("static_app.py", mode)
            cmd = bare(script, str(folder), str(port), arg)
            with serving(cmd, tmp / f"site-{mode}.log", http_ready(port, paths[0])) as pid:
                same_bytes(port, nginx_port, paths[:: max(1, len(paths) // 40)])
                results[f"site {mode}"] = (label, "nginx", *compare(
                    f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{nginx_port}/",
                    (pid, nginx_pid), args, lua_paths=paths_file,
                ))  # fmt: skip
    finally:
        nginx_stop(state)


def self_signed_p256(folder: Path) -> tuple[Path, Path]:
    """A throwaway P-256 certificate for 127.0.0.1 and its key (readable by nginx's worker)."""
    from fazt.https.certs import self_signed

    cert_pem, key_pem = self_signed(["localhost", "bench.test"], days=2)
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_text(cert_pem)
    key.write_text(key_pem)
    key.chmod(0o644)
    return cert, key


def tls_case(tmp: Path, args: argparse.Namespace, results: dict) -> None:
    from https import nginx_start_tls  # imports fazt: checked for in missing_tools

    folder = tmp / "tls"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    make_site(folder)
    cert, key = self_signed_p256(folder)
    print(f"\n== tls: one {(folder / FILE).stat().st_size} B file, keep-alive, P-256 certificate")
    print("-- A = bare Granian TLS, response_bytes; B = nginx TLS (1 worker)")
    nginx_port, port = free_port(), free_port()
    state = nginx_start_tls(folder, nginx_port, cert, key)
    try:
        nginx_pid = int((state / "nginx.pid").read_text())
        cmd = bare("tls_app.py", str(folder / FILE), str(port), str(cert), str(key))
        with serving(cmd, tmp / "tls.log", lambda: fetch(port, f"/{FILE}", True)[0] == 200) as pid:
            same_bytes(port, nginx_port, [f"/{FILE}"], tls=True)
            results["tls"] = ("2 KB over TLS, keep-alive", "nginx", *compare(
                f"https://127.0.0.1:{port}/{FILE}", f"https://127.0.0.1:{nginx_port}/{FILE}",
                (pid, nginx_pid), args,
            ))  # fmt: skip
    finally:
        nginx_stop(state)


def js_case(tmp: Path, args: argparse.Namespace, results: dict) -> None:
    main_js = tmp / "api" / "main.js"
    main_js.parent.mkdir()
    main_js.write_text(HANDLER)
    print("\n== js: bench/runtime.py's trivial JSON handler, GET /api/x")
    node_port = free_port()
    node_cmd = ["node", str(SHARED_BENCH / "node-handler.js"), str(main_js), str(node_port)]
    with serving(node_cmd, tmp / "node.log", js_ready(node_port)) as node_pid:
        for key, workers in JS_WORKERS.items():
            print(f"-- A = bare Granian, {JS_LABELS[key]}; B = node")
            port = free_port()
            cmd = bare("js_app.py", str(main_js), str(port), *map(str, workers))
            with serving(cmd, tmp / f"js-{key}.log", js_ready(port)) as pid:
                same_bytes(port, node_port, ["/api/x"])
                results[f"js {key}"] = (JS_LABELS[key], "node", *compare(
                    f"http://127.0.0.1:{port}/api/x", f"http://127.0.0.1:{node_port}/api/x",
                    (pid, node_pid), args,
                ))  # fmt: skip


def http_ready(port: int, path: str) -> Callable[[], bool]:
    return lambda: get(port, path, "x")[0] == 200


def js_ready(port: int) -> Callable[[], bool]:
    return lambda: json.loads(get(port, "/api/x", "x")[1]).get("ok") is True


def print_table(results: dict, args: argparse.Namespace) -> None:
    print(
        f"\n-- ceilings: bare stack / anchor, wrk -t1 -c{args.conns}, median of "
        f"{args.rounds} x {args.duration}s; CPU per answer (us) bare vs anchor; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for case, (label, anchor, ratio, cpu) in results.items():
        shown = "n/a" if ratio is None else f"{ratio:.2f}"
        us = " vs ".join("?" if c is None else f"{c:.0f}" for c in cpu)
        print(f"{case:<10} {label:<50} {shown:>5}x {anchor:<5}  CPU/answer {us} us")


def last_line(results: dict) -> str:
    def r(case: str) -> str:
        ratio = results.get(case, (None, None, None))[2]
        return "n/a" if ratio is None else f"{ratio:.2f}"

    site = " ".join(f"{m} {r(f'site {m}')}" for m in SITE_MODES)
    js = " ".join(f"{k} {r(f'js {k}')}" for k in JS_WORKERS)
    return f"ceilings: site {site} x nginx; tls {r('tls')} x nginx; js {js} x node"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--only", default=",".join(CASES), help="cases to run: site,tls,js")
    ap.add_argument("--docs", type=Path, default=DOCS)
    args = ap.parse_args()
    cases = [c for c in args.only.split(",") if c]
    if not cases or set(cases) - set(CASES):
        ap.error(f"--only takes a comma list of {', '.join(CASES)}")
    problem = missing_tools(cases, args.docs)
    if problem:
        print(f"ceilings: {problem}")
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}, load average {os.getloadavg()[0]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="fazt-bench-ceil."))
    tmp.chmod(0o755)  # nginx's worker runs as another user
    results: dict = {}
    try:
        for case, run in (("site", site_case), ("tls", tls_case), ("js", js_case)):
            if case in cases:
                run(tmp, args, results)
    except RuntimeError as exc:
        print(f"ceilings: could not set up: {exc}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(results, args)
    print(last_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
