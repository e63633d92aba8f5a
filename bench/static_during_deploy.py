"""Static cache misses while big zip deploys run: does a deploy's CPU work make reads wait?

    python bench/static_during_deploy.py [--deploys 4] [--clients 4] [--zip-mb 32]
                                         [--seconds 8] [--rounds 2]

Deploys a site `pages` of 4,000 distinct 4 KB binary files (not compressible, so a miss is
a lookup and a blob read on a reader thread, nothing else) and sets the static cache to
1 MB: the --clients threads walk the files in order, each on its own keep-alive
connection, so every request is a cache miss. Each round measures those misses for
--seconds with nothing else running (idle), then again while --deploys threads each POST
a --zip-mb zip (text, deflated: parsing it means decompressing and hashing) to
/api/deploy in a loop, each to its own site (busy). Prints the misses' p50/p90/p99/max in
ms and how many deploys finished (and their MB/s). Never fails on a number; stops every
process it started by pid and removes its temp folders.

To compare with older code, run the same script with PYTHONPATH pointing at that code's
src/ folder (the server is `python -m fazt`, which PYTHONPATH decides).
"""

import argparse
import http.client
import io
import random
import sqlite3
import statistics
import threading
import time
import uuid
import zipfile
from pathlib import Path

from benchlib import Fazt, _text_pool, machine_facts, terminate_on_sigterm

PAGES = 4000
PAGE_BYTES = 4096


def make_pages(folder: Path) -> list[str]:
    rng = random.Random(1)
    paths = []
    for i in range(PAGES):
        path = f"p{i // 100:02d}/f{i:04d}.bin"
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(rng.randbytes(PAGE_BYTES))
        paths.append("/" + path)
    (folder / "index.html").write_text("<p>pages</p>")
    return paths


def make_zip(mb: int) -> bytes:
    """About `mb` MB of text in 1 MB files plus 200 small ones, deflated."""
    pool, rng, out = _text_pool(), random.Random(2), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.html", "<p>big</p>")
        for i in range(mb):
            start = rng.randrange(0, len(pool) - 1024 * 1024)
            zf.writestr(f"big/{i:03d}.txt", pool[start : start + 1024 * 1024])
        for i in range(200):
            start = rng.randrange(0, len(pool) - 2048)
            zf.writestr(f"small/{i:03d}.txt", pool[start : start + 2048])
    return out.getvalue()


def multipart(site: str, payload: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="site_name"\r\n\r\n{site}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    return head + payload + f"\r\n--{boundary}--\r\n".encode(), boundary


def token(fz: Fazt) -> str:
    conn = sqlite3.connect(fz.home / "client.db")
    try:
        return conn.execute("SELECT token FROM peers WHERE name = 'local'").fetchone()[0]
    finally:
        conn.close()


class Misses:
    """--clients threads requesting the pages in turn until stopped; latencies in ms."""

    def __init__(self, port: int, paths: list[str], clients: int) -> None:
        self.port, self.paths, self.clients = port, paths, clients
        self.next, self.lock, self.stop = 0, threading.Lock(), threading.Event()
        self.latencies: list[float] = []
        self.errors = 0

    def _path(self) -> str:
        with self.lock:
            self.next = (self.next + 1) % len(self.paths)
            return self.paths[self.next]

    def _client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            while not self.stop.is_set():
                path = self._path()
                started = time.perf_counter()
                conn.request("GET", path, headers={"Host": "pages.localhost"})
                resp = conn.getresponse()
                body = resp.read()
                took = (time.perf_counter() - started) * 1000
                with self.lock:
                    if resp.status == 200 and len(body) == PAGE_BYTES:
                        self.latencies.append(took)
                    else:
                        self.errors += 1
        finally:
            conn.close()

    def run(self, seconds: float, during=None) -> list[float]:
        self.latencies, self.errors = [], 0
        self.stop.clear()
        threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for t in threads:
            t.start()
        try:
            if during is not None:
                during(seconds)
            else:
                self.stop.wait(seconds)
        finally:
            self.stop.set()
            for t in threads:
                t.join(60)
        return self.latencies


class Deployers:
    """--deploys threads, each POSTing the zip to its own site in a loop until stopped."""

    def __init__(self, port: int, tok: str, payload: bytes, count: int) -> None:
        self.port, self.tok, self.payload, self.count = port, tok, payload, count
        self.done, self.failed, self.lock = 0, 0, threading.Lock()
        self.stop = threading.Event()
        self.wall = 0.0

    def _deployer(self, n: int) -> None:
        body, boundary = multipart(f"big{n}", self.payload)
        headers = {
            "Authorization": f"Bearer {self.tok}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        while not self.stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                conn.request("POST", "/api/deploy", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            finally:
                conn.close()
            with self.lock:
                self.done += ok
                self.failed += not ok

    def run_for(self, seconds: float) -> None:
        """Run the deployers for `seconds` (plus the deploys in flight)."""
        self.done = self.failed = 0
        self.stop.clear()
        threads = [threading.Thread(target=self._deployer, args=(n,)) for n in range(self.count)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        self.stop.wait(seconds)
        self.stop.set()
        for t in threads:
            t.join(600)
        self.wall = time.perf_counter() - started


def summary(label: str, ms: list[float], errors: int) -> str:
    if not ms:
        return f"{label:5} no answers ({errors} errors)"
    ms = sorted(ms)
    q = statistics.quantiles(ms, n=100)
    return (
        f"{label:5} misses {len(ms):6}  p50 {q[49]:6.2f}  p90 {q[89]:6.2f}  "
        f"p99 {q[98]:7.2f}  max {ms[-1]:7.1f} ms  errors {errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deploys", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--zip-mb", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    terminate_on_sigterm()
    print(machine_facts())
    payload = make_zip(args.zip_mb)
    print(f"zip: {len(payload) / 1e6:.1f} MB compressed, ~{args.zip_mb} MB of text")
    with Fazt() as fz:
        fz.cli("server", "init", "--db", str(fz.db), "--password", "longenough1")
        fz.set_cache_mb(1)
        fz.start()
        folder = fz.home / "pages"
        folder.mkdir()
        paths = make_pages(folder)
        fz.deploy(folder, "pages")
        misses = Misses(fz.port, paths, args.clients)
        deployers = Deployers(fz.port, token(fz), payload, args.deploys)
        misses.run(2)  # warm up: connections, the reader threads' connections
        for n in range(1, args.rounds + 1):
            idle = misses.run(args.seconds)
            print(f"round {n}  {summary('idle', idle, misses.errors)}")
            busy = misses.run(args.seconds, during=deployers.run_for)
            mb_s = deployers.done * args.zip_mb / deployers.wall
            print(
                f"round {n}  {summary('busy', busy, misses.errors)}  "
                f"deploys {deployers.done} ok, {deployers.failed} failed, {mb_s:.1f} MB/s"
            )


if __name__ == "__main__":
    main()
