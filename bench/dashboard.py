"""Dashboard benchmark: page render times with 100 sites, 1M analytics events and 100k
documents.

    python bench/dashboard.py [--sites 100] [--events 1000000] [--documents 100000] [--runs 20]

Seeds a fresh database directly (sites with two deployments of 20 files each; analytics
events spread over the last 30 days through the analytics writer, with its rollups, 5%
of them custom events; documents, kv entries, blobs and log lines of one app inserted
straight into SQLite), starts a real server, logs in through the login form and times
GET of every dashboard page over loopback (median and max of --runs, after one warm-up
request, whose time is printed too: the first look at the analytics page reads every
custom event once). Never fails on timing.
"""

import argparse
import random
import re
import statistics
import sys
import time

import httpx
from benchlib import Fazt, machine_facts, terminate_on_sigterm

PASSWORD = "longenough1"
EVENT_NAMES = ["signup", "purchase", "share", "search", "logout"]
APP = "site050"  # the app whose storage and logs are seeded
STAMP = "2026-01-01T00:00:00.000000Z"


def _insert_storage(conn, documents: int) -> None:
    import json

    conn.executemany(
        "INSERT INTO app_documents (app, collection, id, data, created_at, updated_at)"
        " VALUES (?, 'items', ?, ?, ?, ?)",
        (
            (
                APP,
                f"d{i:06d}",
                json.dumps({"n": i, "name": f"item {i}", "tags": ["a", "b"]}),
                STAMP,
                STAMP,
            )
            for i in range(documents)
        ),
    )
    conn.executemany(
        "INSERT INTO app_kv (app, key, value, expires_at, created_at, updated_at)"
        " VALUES (?, ?, ?, NULL, ?, ?)",
        ((APP, f"key:{i:05d}", json.dumps({"i": i}), STAMP, STAMP) for i in range(10_000)),
    )
    conn.executemany(
        "INSERT INTO app_objects (app, path, data, mime, size, sha256, created_at, updated_at)"
        " VALUES (?, ?, ?, 'image/png', 4, '0', ?, ?)",
        ((APP, f"img/{i}.png", b"\x89PNG", STAMP, STAMP) for i in range(500)),
    )
    levels = ["debug", "info", "warn", "error"]
    conn.executemany(
        "INSERT INTO app_logs (app, level, message, request_id, created_at)"
        " VALUES (?, ?, ?, 'r', ?)",
        (
            (
                f"site{i % 100:03d}",
                levels[i % 4],
                f"line {i} needle" if i % 997 == 0 else f"line {i}",
                STAMP,
            )
            for i in range(50_000)
        ),
    )


def seed_storage(db, documents: int) -> None:
    db.write_sync(_insert_storage, documents)


def seed_sites(db, count: int) -> None:
    from fazt.hosting import deployments
    from fazt.hosting.deployments import FileEntry, sha256_hex
    from fazt.hosting.manifest import Manifest

    for i in range(count):
        for version in (1, 2):
            files = []
            for j in range(20):
                data = f"site {i} v{version} file {j}\n".encode() * 20
                entry = FileEntry(f"page{j}.html", sha256_hex(data), len(data), "text/html")
                files.append((entry, data))
            db.write_sync(deployments.store_and_publish, f"site{i:03d}", files, Manifest(), "bench")


def seed_events(db, count: int, sites: int) -> float:
    """Write `count` events through the analytics writer; return events/s."""
    from fazt.analytics import store
    from fazt.analytics.store import Event

    rng = random.Random(1)
    now = int(time.time())
    browsers, systems, devices = ["Chrome", "Firefox", "Safari"], ["Linux", "iOS"], ["desktop"]
    started = time.perf_counter()
    batch = 10_000
    for done in range(0, count, batch):
        events = [
            Event(
                now - rng.randrange(30 * 86400),
                f"site{rng.randrange(sites):03d}",
                *(("event", rng.choice(EVENT_NAMES)) if rng.random() < 0.05 else ("pageview", "")),
                f"/page{rng.randrange(50)}",
                rng.choice(["", "news.example", "search.example"]),
                rng.choice(browsers),
                rng.choice(systems),
                rng.choice(devices),
                f"v{rng.randrange(20000)}",
            )
            for _ in range(min(batch, count - done))
        ]
        db.write_sync(store.write_batch, events, {}, {})
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    terminate_on_sigterm()
    print(machine_facts())
    with Fazt() as fz:
        fz.cli("server", "init", "--db", str(fz.db), "--password", PASSWORD)
        from fazt.db import Database

        db = Database.open(fz.db)
        try:
            started = time.perf_counter()
            seed_sites(db, args.sites)
            print(f"seeded {args.sites} sites in {time.perf_counter() - started:.1f}s")
            started = time.perf_counter()
            seed_storage(db, args.documents)
            print(
                f"seeded {args.documents} documents, 10k kv keys, 500 blobs, 50k log lines "
                f"in {time.perf_counter() - started:.1f}s"
            )
            if args.events:
                try:
                    rate = seed_events(db, args.events, args.sites)
                    print(f"seeded {args.events} analytics events ({rate:,.0f} events/s)")
                except ImportError:
                    print("no fazt.analytics module: analytics not seeded")
        finally:
            db.close()
        fz.start()
        base = f"http://127.0.0.1:{fz.port}"
        headers = {"host": f"localhost:{fz.port}", "origin": f"http://localhost:{fz.port}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            login = http.post("/login", data={"username": "admin", "password": PASSWORD})
            match = re.search(r"fazt_session=([^;]+)", login.headers.get("set-cookie", ""))
            if login.status_code != 303 or not match:
                sys.exit(f"login failed: {login.status_code} {login.text[:200]}")
            cookie = {"cookie": f"fazt_session={match.group(1)}"}
            pages = [
                "/",
                "/apps",
                "/apps/site050",
                "/analytics",
                "/analytics?days=90",
                "/analytics?site=site050&days=30",
                "/keys",
                "/settings",
                "/upgrade",
                f"/apps/{APP}/storage",
                f"/apps/{APP}/storage?prefix=key:09",
                f"/apps/{APP}/storage/docs",
                f"/apps/{APP}/storage/docs/items",
                f"/apps/{APP}/storage/docs/items?offset=50000",
                f'/apps/{APP}/storage/docs/items?q={{"n":{{"$gte":99950}}}}',
                f'/apps/{APP}/storage/docs/items?q={{"name":{{"$contains":"item 5"}}}}',
                f"/apps/{APP}/storage/docs/items/edit?id=d050000",
                f"/apps/{APP}/storage/blobs",
                "/logs",
                f"/logs?app={APP}&level=error",
                "/logs?q=needle",
                "/server-health",
                # The operations pages (issue 18 part A), with a few backups to list.
                "/backups",
                "/domains",
                "/redirects",
                "/webhooks",
                "/sessions",
            ]
            token = re.search(
                r'name="csrf-token" content="([^"]+)"', http.get("/", headers=cookie).text
            )
            for _ in range(5):
                http.post("/backups", data={"csrf_token": token.group(1)}, headers=cookie)
            print(f"{'page':52} {'first ms':>9} {'median ms':>10} {'max ms':>8} {'KB':>6}")
            for path in pages:
                t0 = time.perf_counter()
                r = http.get(path, headers=cookie)
                first = (time.perf_counter() - t0) * 1000
                assert r.status_code == 200, (path, r.status_code)
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    r = http.get(path, headers=cookie)
                    times.append((time.perf_counter() - t0) * 1000)
                print(
                    f"{path:52} {first:9.1f} {statistics.median(times):10.1f} "
                    f"{max(times):8.1f} {len(r.content) / 1024:6.0f}"
                )


if __name__ == "__main__":
    main()
