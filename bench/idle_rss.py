"""Memory benchmark: fazt's resident set size (VmRSS) idle, and after serving 10k files.

    python bench/idle_rss.py [--sites 100] [--files 100] [--site-mb 1.6] [--cache-mb 64,16,256]

1. Idle: start a fresh fazt, wait for /health, let RSS settle (polled), read VmRSS.
   Target: <= 50 MB (issue 22; was 80).
2. Bounded under load: deploy SITES x FILES generated files (10k files, ~160 MB of mixed
   text and binary content by default, more than the cache), then for each cache size
   (`fazt server set-config --cache-mb N`, set before the start): restart fazt, request
   every file once in order and once more shuffled (Accept-Encoding: gzip, br, as a browser
   would), and report peak and settled RSS. The first size listed is the default (64 MB);
   the others show that the bound follows the setting.

Last lines: "idle RSS: X MB (target <= 50 MB)" and, per cache size, "after 10000 files
across 100 sites, cache N MB: settled X MB, peak Y MB". Never fails on timing.
"""

import argparse
import http.client
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchlib import (
    Fazt,
    PeakRSS,
    _children,
    _own_rss_kb,
    generate_site,
    machine_facts,
    mb,
    terminate_on_sigterm,
)

IDLE_TARGET_MB = 50  # issue 22 (was 80)
CLIENT_THREADS = 8
DEPLOY_PARALLEL = 3


def split(pid: int) -> str:
    """Each process of the tree with its own VmRSS: where the idle memory is."""
    parts = [f"supervisor {mb(_own_rss_kb(pid)):.1f} MB"]
    parts += [f"child {c} {mb(_own_rss_kb(c)):.1f} MB" for c in _children(pid)]
    return ", ".join(parts)


def request_all(port: int, urls: list[tuple[str, str]]) -> tuple[int, int, float]:
    """GET every (host, path) over keep-alive connections; returns (ok, failed, seconds)."""
    chunks = [urls[i::CLIENT_THREADS] for i in range(CLIENT_THREADS)]

    def worker(chunk: list[tuple[str, str]]) -> tuple[int, int]:
        ok = failed = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for host, path in chunk:
                try:
                    conn.request("GET", path, headers={"Host": host, "Accept-Encoding": "gzip, br"})
                    resp = conn.getresponse()
                    resp.read()
                    ok, failed = (ok + 1, failed) if resp.status == 200 else (ok, failed + 1)
                except (OSError, http.client.HTTPException):
                    failed += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        finally:
            conn.close()
        return ok, failed

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        results = list(pool.map(worker, chunks))
    return (
        sum(r[0] for r in results),
        sum(r[1] for r in results),
        time.perf_counter() - started,
    )


def deploy_sites(fz: Fazt, work: Path, args: argparse.Namespace) -> list[tuple[str, str]]:
    """Generate and deploy the sites; returns every (host, path) to request."""
    per_site = int(args.site_mb * 1024 * 1024)

    def one(n: int) -> list[tuple[str, str]]:
        folder = work / f"s{n:03d}"
        paths = generate_site(folder, seed=50_000 + n, files=args.files, total_bytes=per_site)
        out, _ = fz.deploy(folder, f"s{n:03d}")
        if out["file_count"] != args.files:
            raise RuntimeError(f"site s{n:03d} has {out['file_count']} files")
        host = f"s{n:03d}.localhost"
        urls = [(host, "/" + p.relative_to(folder).as_posix()) for p in paths]
        shutil.rmtree(folder, ignore_errors=True)
        return urls

    started = time.perf_counter()
    with ThreadPoolExecutor(DEPLOY_PARALLEL) as pool:
        per = list(pool.map(one, range(args.sites)))
    urls = [u for site in per for u in site]
    print(
        f"deployed {args.sites} sites x {args.files} files "
        f"({args.sites * args.site_mb:.0f} MB) in {time.perf_counter() - started:.0f}s"
    )
    return urls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--files", type=int, default=100, help="files per site")
    ap.add_argument("--site-mb", type=float, default=1.6, help="MB of files per site")
    ap.add_argument(
        "--cache-mb", default="64,16,256", help="cache sizes to try, comma-separated (MB)"
    )
    ap.add_argument("--idle-only", action="store_true")
    args = ap.parse_args()
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    work = Path(tempfile.mkdtemp(prefix="fazt-bench-rss."))
    idle, loaded = None, []
    try:
        with Fazt() as fz:
            fz.start()
            idle = fz.settle_rss()
            print(f"idle: VmRSS {mb(idle):.1f} MB (pid {fz.pid}, fresh database)")
            print(f"  {split(fz.pid)}")
            if not args.idle_only:
                urls = deploy_sites(fz, work, args)
                for cache_mb in [int(x) for x in args.cache_mb.split(",") if x.strip()]:
                    fz.stop()
                    fz.set_cache_mb(cache_mb)
                    fz.start()
                    start_rss = fz.settle_rss()
                    shuffled = random.Random(cache_mb).sample(urls, len(urls))
                    with PeakRSS(fz.pid, interval=0.05) as peak:
                        passes = [request_all(fz.port, urls), request_all(fz.port, shuffled)]
                    settled = fz.settle_rss()
                    for i, (ok, failed, secs) in enumerate(passes):
                        print(
                            f"  cache {cache_mb} MB, pass {i + 1}: {ok} x 200, {failed} failed, "
                            f"{secs:.1f}s ({ok / secs:.0f} req/s)"
                        )
                    print(
                        f"  cache {cache_mb} MB: idle after restart {mb(start_rss):.1f} MB, "
                        f"peak {mb(peak.peak):.1f} MB, settled {mb(settled):.1f} MB"
                    )
                    loaded.append((cache_mb, len(urls), settled, peak.peak))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"idle RSS: {mb(idle):.1f} MB (target <= {IDLE_TARGET_MB} MB)")
    for cache_mb, count, settled, peak in loaded:
        print(
            f"after {count} files across {args.sites} sites, cache {cache_mb} MB: "
            f"settled {mb(settled):.1f} MB, peak {mb(peak):.1f} MB "
            f"(peak - idle = {mb(peak - idle):.1f} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
