"""The ceiling for bench/static.py: a bare Granian RSGI app vs nginx, same 2 KB body.

    python bench/static_floor.py [--task-impl asyncio|rust] [--rounds 3] [--duration 5]

The bare app answers every request with the same bytes and the same six headers fazt sends,
from the same embedded Granian server on uvloop that src/fazt/server/run.py uses, with no
routing, cache or header checks. The ratio it gets against nginx is what fazt could reach if
its own Python on the hot path cost nothing; the gap to bench/static.py is fazt's share.
--task-impl rust tries Granian's Rust task implementation (Python < 3.12 only).

Last line: "bare granian (task_impl X)/nginx = R.RR". Diagnostic only; never fails on timing.
"""

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import free_port, get, machine_facts, stop_pid, terminate_on_sigterm, wrk_ratio
from static import FILE, make_site, nginx_start, nginx_stop

HEADERS = [
    ("content-type", "text/html; charset=utf-8"),
    ("last-modified", "Wed, 25 Nov 2026 22:35:14 GMT"),
    ("cache-control", "no-cache"),
    ("accept-ranges", "bytes"),
    ("vary", "Accept-Encoding"),
    ("etag", '"1863171f38c6f2adb4c4dbe143e746262e0adcc6"'),
]


def serve(port: int, body_file: Path, task_impl: str) -> None:
    """Child process: the bare RSGI app until SIGTERM."""
    import uvloop
    from granian.constants import Interfaces, TaskImpl
    from granian.server.embed import Server

    body = body_file.read_bytes()

    class App:
        async def __rsgi__(self, scope, proto) -> None:
            proto.response_bytes(200, HEADERS, body)

    async def main() -> None:
        server = Server(
            App(),
            address="127.0.0.1",
            port=port,
            interface=Interfaces.RSGI,
            log_enabled=False,
            backlog=1024,
            task_impl=TaskImpl(task_impl),
        )
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.stop)
        await server.serve()

    try:
        uvloop.run(main())
    except RuntimeError as exc:
        # With task_impl=rust, asyncio.Runner's final task sweep trips over Granian's
        # Rust tasks ("Future object is not initialized") after a clean stop.
        if "not initialized" not in str(exc):
            raise


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task-impl", choices=["asyncio", "rust"], default="asyncio")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--body", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.body, args.task_impl)
        return 0
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    folder = Path(tempfile.mkdtemp(prefix="fazt-bench-floor."))
    folder.chmod(0o755)
    nginx_state, child = None, None
    try:
        make_site(folder)
        port, nginx_port = free_port(), free_port()
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(port),
                "--body",
                str(folder / FILE),
                "--task-impl",
                args.task_impl,
            ]
        )
        for _ in range(200):
            try:
                if get(port, "/", "localhost", timeout=1)[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the bare Granian app did not start")
        nginx_state = nginx_start(folder, nginx_port)
        print(f"A = bare Granian RSGI (task_impl {args.task_impl}), pid {child.pid}")
        print(f"B = nginx (1 worker), -- keep-alive, wrk -t1 -c{args.conns}")
        ratio = wrk_ratio(
            f"http://127.0.0.1:{port}/{FILE}",
            f"http://127.0.0.1:{nginx_port}/{FILE}",
            "localhost",  # the bare app ignores Host
            args,
        )
    finally:
        if child is not None:
            stop_pid(child)
        if nginx_state is not None:
            nginx_stop(nginx_state)
        shutil.rmtree(folder, ignore_errors=True)
    shown = f"{ratio:.2f}" if ratio is not None else "n/a"
    print(f"bare granian (task_impl {args.task_impl})/nginx = {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
