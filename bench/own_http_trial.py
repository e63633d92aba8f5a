"""Trial for decision 013: fazt's own request handling (FaztApp, unchanged) behind a plain
uvloop HTTP/1.1 server instead of Granian, on the whole Python docs site at random paths.

    apt-get install -y python3.11-doc wrk nginx-light
    python bench/own_http_trial.py [--rounds 3] [--duration 5] [--conns 64] [--docs DIR]

Deploys the docs (as bench/site.py does) to a throwaway fazt, then runs three servers over
the same database: fazt as shipped (Granian), the same FaztApp in a subprocess of this
script served by the small HTTP/1.1 loop below (`--serve DB PORT`), and nginx (1 worker).
Prints "trial/nginx" and "fazt/nginx" from alternating wrk rounds, and CPU per answer.

The loop below is a measurement device, not a server to ship: GET/HEAD without bodies
only, one request at a time per connection, a naive header parser, no limits. What it
shows is the cost of handing each request between Granian's thread and the event loop
(one thread here parses, answers and writes). Never fails on timing.
"""

import argparse
import asyncio
import contextlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import (
    SHARED_BENCH,
    Fazt,
    free_port,
    get,
    machine_facts,
    missing_wrk_or_nginx,
    terminate_on_sigterm,
    tree_cpu_seconds,
    wrk_ratio,
)
from runtime import HANDLER  # bench/runtime.py's trivial handler

from fazt.hosting import routing
from fazt.hosting.compression import preferred
from fazt.hosting.paths import canonical_path

DOCS = Path("/usr/share/doc/python3.11/html")
REASONS = {200: "OK", 206: "Partial Content", 304: "Not Modified", 404: "Not Found"}


class Headers(dict):
    """Request headers, lowercased names (what Granian's scope.headers gives)."""


class Scope:
    __slots__ = ("client", "headers", "method", "path", "query_string")
    proto = "http"
    http_version = "1.1"
    scheme = "http"
    authority = None
    server = "127.0.0.1"

    def __init__(self, method: str, target: str, headers: Headers, client: str) -> None:
        self.method = method
        self.path, _, self.query_string = target.partition("?")
        self.headers = headers
        self.client = client


class Proto:
    """The RSGI calls FaztApp makes for GET/HEAD answers, written to the connection."""

    __slots__ = ("conn",)

    def __init__(self, conn: "Connection") -> None:
        self.conn = conn

    def response_empty(self, status: int, headers: list) -> None:
        self.conn.send(status, headers, b"")

    def response_bytes(self, status: int, headers: list, body: bytes) -> None:
        self.conn.send(status, headers, body)

    def response_str(self, status: int, headers: list, body: str) -> None:
        self.conn.send(status, headers, body.encode())

    def response_file(self, status: int, headers: list, path: str) -> None:
        self.conn.send(status, headers, Path(path).read_bytes())

    async def __call__(self) -> bytes:
        return b""


class Connection(asyncio.Protocol):
    app: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = f"{peer[0]}:{peer[1]}"
        self.buffer = b""
        self.busy = False  # a request is being answered: parse the next one after it

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.parse()

    def parse(self) -> None:
        while not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = Headers()
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.busy = True
            self.step(self.app.__rsgi__(Scope(method, target, headers, self.client), Proto(self)))

    def step(self, coro: Any, _: Any = None) -> None:
        """Run the handler's coroutine without a Task: the hot path never suspends."""
        try:
            future = coro.send(None)
        except StopIteration:
            return
        if future is None:  # a bare yield (asyncio.sleep(0))
            asyncio.get_running_loop().call_soon(self.step, coro)
        else:
            future._asyncio_future_blocking = False
            future.add_done_callback(lambda f: self.step(coro))

    def send(self, status: int, headers: list, body: bytes) -> None:
        if self.transport.is_closing():  # the client left (wrk stops mid-request)
            return
        self.transport.writelines((response_head_bytes(status, headers, body), body))
        self.busy = False
        if self.buffer:
            asyncio.get_running_loop().call_soon(self.parse)


class LeanConnection(Connection):
    """`--lean`: what a server of our own could do on fazt's hot path. A plain GET of a
    cached file (or a small disk copy) is answered from the header bytes alone, with the
    response head built once per (site, deployment, path, encoding) and kept, as a cache
    entry could keep it; fazt's own checks (edge rate limit, routing, canonical path,
    conditional headers) still run. Anything else goes the full FaztApp way."""

    heads: dict[tuple, bytes] = {}

    def parse(self) -> None:
        while not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.answer_plain(self.buffer[:end]):
                super().parse()  # the full way for this request
                continue
            self.buffer = self.buffer[end + 4 :]

    def answer_plain(self, head: bytes) -> bool:
        lower = head.lower()
        if not lower.startswith(b"get ") or any(h in lower for h in CONDITIONAL):
            return False
        target = head[4 : head.find(b" ", 4)].decode("latin-1")
        host, accept = header(head, lower, b"\r\nhost:"), header(head, lower, ACCEPT)
        if "?" in target or "%" in target or host is None:
            return False
        app = self.app
        app.analytics.requests += 1
        scope = Scope("GET", target, EMPTY, self.client)
        if app.edge.enabled and not app.edge.admit(scope, Proto(self)):
            return True  # answered 429 (never with the defaults on loopback)
        found = app.state.routing.resolve(host)
        path = canonical_path(target)
        if found.kind != routing.SITE or path is None:
            return False
        static = app.state.static
        entry = static.cached(found.site, found.deployment_id, path)
        if entry is None or (entry.compress_pending and accept):
            return False
        if entry.full:
            encoding = preferred(accept, entry.variants)
            headers, body = entry.full[encoding]
        else:
            hot = static.hot_file(entry, accept)
            if not hot or type(hot[1]) is not bytes:
                return False
            encoding = preferred(accept, entry.disk_variants)
            headers, body = hot
        key = (found.site, found.deployment_id, path, encoding)
        response_head = self.heads.get(key)
        if response_head is None:
            response_head = self.heads[key] = response_head_bytes(entry.status, headers, body)
        self.transport.writelines((response_head, body))
        return True


CONDITIONAL = (b"\r\nif-none-match:", b"\r\nif-modified-since:", b"\r\nrange:")
ACCEPT = b"\r\naccept-encoding:"
EMPTY = Headers()


def header(head: bytes, lower: bytes, name: bytes) -> str | None:
    start = lower.find(name)
    if start < 0:
        return None
    start += len(name)
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].decode("latin-1").strip()


def response_head_bytes(status: int, headers: list, body: bytes) -> bytes:
    """The status line and headers, with a content-length unless the headers have one."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if not any(name == "content-length" for name, _ in headers):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def serve(db_path: Path, port: int, lean: bool) -> None:
    from fazt.db import Database
    from fazt.server.app import FaztApp
    from fazt.state import ServerState

    db = Database.open(db_path)
    Connection.app = FaztApp(ServerState.load(db, port))
    server = await asyncio.get_running_loop().create_server(
        LeanConnection if lean else Connection, "127.0.0.1", port, backlog=1024
    )
    print("serving", flush=True)
    await server.serve_forever()


def capture(run: Any, *args: Any) -> str:
    """What `run(*args)` prints, printed too and returned (for the CPU-per-answer lines)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run(*args)
    sys.stdout.write(buffer.getvalue())
    return buffer.getvalue()


def bench_site_module() -> Any:
    """bench/site.py (its name is the standard library's `site`, so loaded by path)."""
    spec = importlib.util.spec_from_file_location("bench_site", Path(__file__).with_name("site.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def js_case(fz: Fazt, trial_port: int, tmp: Path, args: argparse.Namespace) -> None:
    """The trivial serverless handler of bench/runtime.py: trial and fazt against Node."""
    handler_file = tmp / "handler.js"
    handler_file.write_text(HANDLER)
    node_port = free_port()
    node = subprocess.Popen(
        ["node", str(SHARED_BENCH / "node-handler.js"), str(handler_file), str(node_port)]
    )
    try:
        for port, host in (
            (fz.port, "bench.localhost"),
            (trial_port, "bench.localhost"),
            (node_port, "localhost"),
        ):
            deadline = time.monotonic() + 30
            while get(port, "/api/x", host)[0] != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"/api/x on port {port} never answered 200")
        for name, port in (("trial", trial_port), ("fazt", fz.port)):
            print(f"--- serverless trivial: A = {name}, B = node")
            url = f"http://127.0.0.1:{port}/api/x"
            wrk_ratio(url, f"http://127.0.0.1:{node_port}/api/x", "bench.localhost", args)
    finally:
        node.terminate()
        node.wait(timeout=10)


def measure(args: argparse.Namespace) -> int:
    site = bench_site_module()
    tmp = Path(tempfile.mkdtemp(prefix="fazt-bench-trial."))
    tmp.chmod(0o755)
    trial = nginx_state = None
    try:
        folder = tmp / "html"
        paths = site.copy_docs(args.docs, folder)
        paths_file = tmp / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        with Fazt() as fz:
            fz.start()
            fz.deploy(folder, "docs")
            if args.js:  # before the trial starts: it reads the routing table once
                app = tmp / "app"
                (app / "api").mkdir(parents=True)
                (app / "api" / "main.js").write_text(HANDLER)
                fz.deploy(app, "bench")
            host = "docs.localhost"
            trial_port, nginx_port = free_port(), free_port()
            trial = subprocess.Popen(
                [sys.executable, __file__, "--serve", str(fz.db), str(trial_port)]
                + (["--lean"] if args.lean else []),
                stdout=subprocess.PIPE,
                text=True,
            )
            assert trial.stdout is not None and trial.stdout.readline().strip() == "serving"
            nginx_state = site.nginx_start(folder, nginx_port)
            for port, h in ((fz.port, host), (trial_port, host), (nginx_port, "localhost")):
                for path in paths[:: max(1, len(paths) // 50)]:
                    status, _ = get(port, path, h)
                    if status != 200:
                        raise RuntimeError(f"{path} on port {port}: {status}")
            nginx_pid = int((nginx_state / "nginx.pid").read_text())
            for name, pid, port in (("trial", trial.pid, trial_port), ("fazt", fz.pid, fz.port)):
                before = tree_cpu_seconds(pid), tree_cpu_seconds(nginx_pid)
                lua = ["random-paths.lua", str(paths_file)]
                url_a, url_b = f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{nginx_port}/"
                out = capture(wrk_ratio, url_a, url_b, host, args, lua)
                after = tree_cpu_seconds(pid), tree_cpu_seconds(nginx_pid)
                print(f"--- A = {name}, B = nginx")
                site.print_cpu_per_request(out, args.duration, before, after)
            if args.js:
                js_case(fz, trial_port, tmp, args)
    finally:
        if trial is not None:
            trial.terminate()
            trial.wait(timeout=10)
        if nginx_state is not None:
            site.nginx_stop(nginx_state)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--docs", type=Path, default=DOCS)
    ap.add_argument(
        "--lean", action="store_true", help="the trial answers plain GETs of cached files lean"
    )
    ap.add_argument("--js", action="store_true", help="also the trivial serverless handler vs Node")
    ap.add_argument("--serve", nargs=2, metavar=("DB", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        import uvloop

        uvloop.run(serve(Path(args.serve[0]), int(args.serve[1]), args.lean))
        return 0
    if missing_wrk_or_nginx("own_http_trial"):
        return 2
    terminate_on_sigterm()
    print(f"machine: {machine_facts()}, load average {os.getloadavg()[0]:.2f}")
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
