"""Analytics benchmark: /_fazt/track ingestion and its effect on static serving.

    python bench/track.py [--duration 10] [--conns 64]

1. Ingestion: wrk POSTs beacons (a Lua script varies the path) to /_fazt/track on a
   throwaway fazt for --duration seconds. Reports the accepted beacons/s, then stops fazt
   with SIGTERM and counts the events actually stored (none may be lost: the buffer is
   flushed on shutdown).
2. Static with and without tracking: wrk GETs a 2 KB cached page alone, then again while a
   second wrk (8 connections) posts beacons; reports both static req/s and the ratio.

3. --queries N: N events (100 sites, a year) written through the real batch writer into a
   temporary database, then the dashboard's queries (fazt.analytics.queries) timed.

Prints "track: N events/s stored" and "static under tracking load: X.XX of alone" last.
Never fails on timing; every process it starts is stopped by pid, temp folders removed.
"""

import argparse
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Fazt, get, machine_facts, terminate_on_sigterm

SITE = "bench"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
LUA = """
wrk.method = "POST"
wrk.headers["Host"] = "bench.localhost"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["User-Agent"] = "CHROME"
local n = 0
request = function()
  n = n + 1
  local body = '{"p":"/page' .. (n % 50) .. '","r":"https://news.example.com/"}'
  return wrk.format(nil, nil, nil, body)
end
""".replace("CHROME", CHROME)


def make_site(folder: Path) -> None:
    page = b"<!doctype html><html><head><title>bench</title></head><body>"
    page += b"<p>" + b"lorem ipsum dolor sit amet " * 70 + b"</p></body></html>\n"
    (folder / "index.html").write_bytes(page)


def wrk(url: str, args: list[str], duration: int) -> tuple[float, int, str]:
    """(requests/s, non-2xx count, raw output) of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", f"-d{duration}s", "--latency", *args, url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return (float(rps.group(1)) if rps else 0.0), int(bad.group(1)) if bad else 0, out


def total(out: str) -> int:
    found = re.search(r"(\d+) requests in", out)
    return int(found.group(1)) if found else 0


def p99(out: str) -> str:
    found = re.search(r"99%\s+([\d.]+\w+)", out)
    return found.group(1) if found else "?"


def stored_events(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM analytics_events").fetchone()[0]
    finally:
        conn.close()


def measure_queries(n: int) -> None:
    """Fill a temporary database with n events, then time each dashboard query."""
    import random

    from fazt.analytics import queries, store
    from fazt.db import Database

    rng = random.Random(1)
    folder = Path(tempfile.mkdtemp(prefix="fazt-bench-queries."))
    try:
        with Database.open(folder / "data.db") as db:
            now, started, batch = int(time.time()), time.perf_counter(), []
            # Hits arrive in time order, more on recent days; sites and pages are
            # Zipf-like (a few popular ones); a visitor views 1-5 pages of one site.
            weights = [1 + d for d in range(365)]
            per_day = [n * w // sum(weights) for w in weights]
            per_day[-1] += n - sum(per_day)
            sites = [f"site{i}" for i in range(100)]
            site_w = [1 / (i + 1) for i in range(100)]
            paths = [f"/post/{i}" for i in range(300)]
            path_w = [1 / (i + 1) for i in range(300)]
            for d, count in enumerate(per_day):
                day_start, made = now - (365 - d) * 86400, 0
                while made < count:
                    site = rng.choices(sites, site_w)[0]
                    visitor = f"{rng.getrandbits(128):032x}"
                    ua = (
                        rng.choice(["Chrome", "Firefox", "Safari", "Edge"]),
                        rng.choice(["Windows", "macOS", "Linux", "Android", "iOS"]),
                        rng.choice(["Desktop", "Mobile", "Tablet"]),
                    )
                    t = rng.randrange(86400 - 600)
                    views = min(count - made, rng.randint(1, 5))
                    for j, path in enumerate(rng.choices(paths, path_w, k=views)):
                        referrer = rng.choice(["", "news.example.com", "search.example"])
                        batch.append(
                            store.Event(
                                day_start + t + j * 60,
                                site,
                                "pageview",
                                "",
                                path,
                                referrer if j == 0 else "",
                                *ua,
                                visitor,
                            )
                        )
                        if len(batch) == 1000:
                            db.write_sync(store.write_batch, batch, {}, {})
                            batch = []
                    made += views
            if batch:
                db.write_sync(store.write_batch, batch, {}, {})
            took = time.perf_counter() - started
            print(f"wrote {n} events in {took:.1f}s through write_batch ({n / took:.0f}/s)")
            size = sum(p.stat().st_size for p in folder.iterdir())
            rows = db.read_sync(
                lambda c: [
                    f"{t} {c.execute(f'SELECT COUNT(*) FROM {t}').fetchone()[0]}"
                    for t in ("analytics_events", "analytics_daily", "analytics_daily_dims")
                ]
            )
            print(f"database: {size / 1e6:.0f} MB; rows: {', '.join(rows)}")
            for label, fn, fargs in [
                ("overview(all sites, 30 days)", queries.overview, (None, 30)),
                ("overview(all sites, 365 days)", queries.overview, (None, 365)),
                ("overview(one site, 30 days)", queries.overview, ("site7", 30)),
                ("overview(one site, 365 days)", queries.overview, ("site7", 365)),
                ("request_series(48 hours)", queries.request_series, (48,)),
            ]:
                times = []
                for _ in range(5):
                    t = time.perf_counter()
                    db.read_sync(fn, *fargs)
                    times.append(time.perf_counter() - t)
                print(f"{label}: {min(times) * 1000:.1f} ms (best of 5)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--queries", type=int, default=0, metavar="N", help="time queries at N events")
    args = ap.parse_args()
    if args.queries:
        measure_queries(args.queries)
        return 0
    if not shutil.which("wrk"):
        print("track: wrk is not installed (apt-get install -y wrk)")
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    folder = Path(tempfile.mkdtemp(prefix="fazt-bench-track."))
    lua = folder / "beacon.lua"
    lua.write_text(LUA)
    try:
        site = folder / "site"
        site.mkdir()
        make_site(site)
        with Fazt() as fz:
            fz.start()
            fz.deploy(site, SITE)
            status, body = get(fz.port, "/", f"{SITE}.localhost")
            if status != 200 or b"/_fazt/t.js" not in body:
                raise RuntimeError(f"the bench page answered {status} without the script tag")
            base = f"http://127.0.0.1:{fz.port}"
            conns = f"-c{args.conns}"

            print(f"-- 1. POST /_fazt/track, wrk -t1 {conns}, {args.duration}s")
            rps, bad, out = wrk(f"{base}/_fazt/track", [conns, "-s", str(lua)], args.duration)
            sent = total(out)
            print(f"accepted {rps:.0f} beacons/s (p99 {p99(out)}), {sent} sent, {bad} non-2xx")
            started = time.monotonic()
            fz.stop()  # SIGTERM: the buffer is flushed before exit
            print(f"graceful stop took {time.monotonic() - started:.1f}s")
            stored = stored_events(fz.db)
            # wrk does not count the requests still in flight when it stops, so the stored
            # count may exceed its total by up to --conns; fewer would mean lost events.
            lost = max(0, sent - bad - stored)
            print(f"stored {stored} events; wrk counted {sent - bad} accepted; {lost} lost")
            ingest = stored / args.duration

            print(f"-- 2. GET / (2 KB, cached), wrk -t1 {conns}, {args.duration}s each")
            fz.start()
            host = ["-H", f"Host: {SITE}.localhost"]
            alone, _, out_alone = wrk(f"{base}/", [conns, *host], args.duration)
            print(f"static alone: {alone:.0f} req/s (p99 {p99(out_alone)})")
            tracker = subprocess.Popen(
                [
                    "wrk",
                    "-t1",
                    "-c8",
                    f"-d{args.duration + 2}s",
                    "-s",
                    str(lua),
                    f"{base}/_fazt/track",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                time.sleep(1)  # let the tracking load ramp up first (a benchmark, not a test)
                loaded, _, out_loaded = wrk(f"{base}/", [conns, *host], args.duration)
                tracked_out, _ = tracker.communicate(timeout=args.duration + 30)
            finally:
                if tracker.poll() is None:
                    tracker.kill()
                    tracker.wait()
            tracked = re.search(r"Requests/sec:\s+([\d.]+)", tracked_out)
            print(
                f"static with tracking: {loaded:.0f} req/s (p99 {p99(out_loaded)}) while "
                f"{float(tracked.group(1)) if tracked else 0:.0f} beacons/s were posted"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"track: {ingest:.0f} events/s stored ({lost} lost)")
    print(f"static under tracking load: {loaded / alone if alone else 0:.2f} of alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
