"""Dashboard benchmark: page render times with 100 sites and 1M analytics events.

    python bench/dashboard.py [--sites 100] [--events 1000000] [--runs 20]

Seeds a fresh database directly (sites with two deployments of 20 files each; analytics
events spread over the last 30 days through the analytics writer, with its rollups),
starts a real server, logs in through the login form and times GET of every dashboard
page over loopback (median and max of --runs, after one warm-up request).
Never fails on timing.
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
                "pageview",
                "",
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
            print(f"{'page':36} {'median ms':>10} {'max ms':>8} {'KB':>6}")
            for path in pages:
                r = http.get(path, headers=cookie)
                assert r.status_code == 200, (path, r.status_code)
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    r = http.get(path, headers=cookie)
                    times.append((time.perf_counter() - t0) * 1000)
                print(
                    f"{path:36} {statistics.median(times):10.1f} {max(times):8.1f} "
                    f"{len(r.content) / 1024:6.0f}"
                )


if __name__ == "__main__":
    main()
