"""Soak: a modest mixed load on one real fazt server for --minutes, sampling memory.

    python bench/soak.py [--minutes 15] [--rate 200] [--csv /tmp/fazt-soak.csv]
                         [--sample-seconds 10] [--tail-minutes 10] [--timeout 30]

Deploys three static sites (300 files of 1-16 KB each) and a small kv app, logs in to the
dashboard once, then runs paced client threads (httpx, one connection each) for --minutes:
static GETs of random paths (55% of --rate), kv reads (20%) and writes (10%) over 500
keys, analytics beacons to /_fazt/track (15%), a dashboard page every 2 s, and a real
`fazt deploy` of one of the static sites (one file changed) every 30 s. Every
--sample-seconds it samples VmRSS of each process (the supervisor, the worker, each JS
worker), the static cache's counted size (/api/system/cache) and the machine's 1-minute
load average into the CSV. An error is a non-2xx answer where a 2xx is expected, or a
connection error (a client timeout included: it is counted, with its cause).

Prints the RSS curve per process (start, ~3 min, end, drift and slope over the last
--tail-minutes) and requests/errors per kind and cause. Never fails on a number; stops
every process it started by pid and removes its temp folder.
"""

import argparse
import collections
import csv
import os
import random
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
from benchlib import Fazt, _children, _own_rss_kb, machine_facts, terminate_on_sigterm

PASSWORD = "longenough1"
SITES = ["s0", "s1", "s2"]
FILES = 300
KEYS = 500
DEPLOY_S = 30
DASH_S = 2
KV_MAIN = """function handler(req) {
  const kv = fazt.storage.kv;
  const parts = req.path.split("/");  // /api/get/17 or /api/set/17
  const key = "k" + parts[3];
  if (parts[2] === "set") {
    kv.set(key, { n: (kv.get(key) || { n: 0 }).n + 1, at: Date.now() });
    return { ok: true };
  }
  return { value: kv.get(key) || null };
}
handler(request);
"""
PAGES = ["/", "/apps", "/apps/s0", "/analytics", "/analytics?days=30", "/keys", "/settings"]


class Counts:
    """Requests and errors per kind, plus the first few error messages."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok: collections.Counter = collections.Counter()
        self.bad: collections.Counter = collections.Counter()
        self.samples: dict[str, list[str]] = collections.defaultdict(list)
        self.causes: collections.Counter = collections.Counter()  # (kind, cause): errors

    def add(self, kind: str, ok: bool, why: str = "") -> None:
        with self.lock:
            if ok:
                self.ok[kind] += 1
                return
            self.bad[kind] += 1
            self.causes[(kind, why.split(" ", 1)[0])] += 1
            if len(self.samples[kind]) < 5:
                self.samples[kind].append(why)


def make_site(folder: Path, rng: random.Random) -> list[str]:
    paths = []
    for i in range(FILES):
        path = f"d{i % 10}/f{i:03d}.{'html' if i % 3 else 'css'}"
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text("x" * rng.randrange(1024, 16384))
        paths.append("/" + path)
    (folder / "index.html").write_text("<!doctype html><title>soak</title><p>v0</p>")
    return [*paths, "/"]


def make_app(folder: Path) -> None:
    (folder / "api").mkdir(parents=True)
    (folder / "api" / "main.js").write_text(KV_MAIN)
    (folder / "index.html").write_text("<p>kv</p>")


def request(client: httpx.Client, counts: Counts, kind: str, method: str, url: str, **kw):
    try:
        resp = client.request(method, url, **kw)
        resp.read()
        counts.add(kind, 200 <= resp.status_code < 300, f"{resp.status_code} {url}")
    except httpx.HTTPError as exc:
        counts.add(kind, False, f"{type(exc).__name__}: {exc} {url}")


def paced(rate: float, stop: threading.Event, step) -> None:
    """Call step() about `rate` times a second until stop is set (never bursts to catch up)."""
    gap, due = 1.0 / rate, time.monotonic()
    while not stop.is_set():
        step()
        due = max(due + gap, time.monotonic() - gap)
        stop.wait(max(0.0, due - time.monotonic()))


def clients(fz: Fazt, paths: list[str], cookie: str, args, counts: Counts, stop):
    """The client threads (not started), each with its own connection and pace."""
    base, rate = f"http://127.0.0.1:{fz.port}", args.rate

    def make(kind: str, share: float, host: str, fn, headers=None):
        def run() -> None:
            rng = random.Random(kind)
            h = {"host": host, **(headers or {})}
            with httpx.Client(base_url=base, headers=h, timeout=args.timeout) as client:
                paced(rate * share, stop, lambda: fn(client, rng))

        return threading.Thread(target=run, name=kind, daemon=True)

    def static(client, rng):
        site = rng.choice(SITES)
        url = rng.choice(paths)
        request(client, counts, "static", "GET", url, headers={"host": f"{site}.localhost"})

    def kv_get(client, rng):
        request(client, counts, "kv read", "GET", f"/api/get/{rng.randrange(KEYS)}")

    def kv_set(client, rng):
        request(client, counts, "kv write", "POST", f"/api/set/{rng.randrange(KEYS)}")

    def beacon(client, rng):
        body = f'{{"p":"/page{rng.randrange(50)}","r":"https://news.example.com/"}}'
        hdr = {"host": f"{rng.choice(SITES)}.localhost", "content-type": "text/plain"}
        request(client, counts, "beacon", "POST", "/_fazt/track", content=body, headers=hdr)

    def dash(client, rng):
        request(client, counts, "dashboard", "GET", rng.choice(PAGES))

    dash_headers = {"cookie": cookie, "origin": f"http://localhost:{fz.port}"}
    return [
        make("static-a", 0.275, "s0.localhost", static),
        make("static-b", 0.275, "s0.localhost", static),
        make("kv read", 0.20, "kv.localhost", kv_get),
        make("kv write", 0.10, "kv.localhost", kv_set),
        make("beacon", 0.15, "s0.localhost", beacon),
        make("dashboard", 1 / DASH_S / rate, f"localhost:{fz.port}", dash, dash_headers),
    ]


def deployer(fz: Fazt, home: Path, counts: Counts, stop: threading.Event) -> None:
    """A real `fazt deploy` of one static site (index.html changed) every DEPLOY_S seconds."""
    n = 0
    while not stop.wait(DEPLOY_S):
        n += 1
        site = SITES[n % len(SITES)]
        (home / site / "index.html").write_text(f"<!doctype html><title>soak</title><p>v{n}</p>")
        try:
            fz.deploy(home / site, site)
            counts.add("deploy", True)
        except (RuntimeError, OSError) as exc:
            counts.add("deploy", False, str(exc)[-300:])


def processes(supervisor: int) -> dict[str, list[int]]:
    """The server's processes by role: supervisor, worker, js (JS workers)."""
    roles: dict[str, list[int]] = {"supervisor": [supervisor], "worker": [], "js": []}
    todo = list(_children(supervisor))
    while todo:
        pid = todo.pop()
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            todo += _children(pid)
        except OSError:
            continue
        roles["js" if b"runtime.worker" in cmd else "worker"].append(pid)
    return roles


def cache_mb(fz: Fazt, key: str) -> float:
    """The static cache's counted size in MB (-1 if the server did not answer)."""
    headers = {"host": f"localhost:{fz.port}", "authorization": f"Bearer {key}"}
    try:
        resp = httpx.get(f"http://127.0.0.1:{fz.port}/api/system/cache", headers=headers)
        return resp.json()["data"]["CacheSizeBytes"] / 1e6
    except (httpx.HTTPError, ValueError, KeyError):
        return -1.0


def sample(supervisor: int) -> dict[str, float]:
    """RSS in MB per role (JS workers summed), and how many JS workers there are."""
    out: dict[str, float] = {"load1": os.getloadavg()[0]}
    for role, pids in processes(supervisor).items():
        total = 0
        for pid in pids:
            try:
                total += _own_rss_kb(pid)
            except (OSError, RuntimeError):
                continue
        out[role] = total / 1024
        if role == "js":
            out["js_count"] = len(pids)
    return out


def at(rows: list[dict], t: float) -> dict:
    """The sample nearest to t seconds."""
    return min(rows, key=lambda r: abs(r["t"] - t))


def report(rows: list[dict], counts: Counts, tail_minutes: float) -> None:
    end = rows[-1]["t"]
    tail = [r for r in rows if r["t"] >= end - tail_minutes * 60]
    print(f"\nRSS in MB over {end / 60:.1f} min ({len(rows)} samples)")
    print(
        f"{'process':11} {'start':>7} {'~3 min':>7} {'end':>7} {'min':>7} {'max':>7} "
        f"{f'drift {tail_minutes:g}m':>9} {'MB/min':>7}"
    )
    for role in ["supervisor", "worker", "js"]:
        vals = [r[role] for r in rows]
        drift = tail[-1][role] - tail[0][role]
        ts = [r["t"] / 60 for r in tail]
        slope = statistics.linear_regression(ts, [r[role] for r in tail]).slope
        print(
            f"{role:11} {vals[0]:7.1f} {at(rows, 180)[role]:7.1f} {vals[-1]:7.1f} "
            f"{min(vals):7.1f} {max(vals):7.1f} {drift:+9.1f} {slope:+7.3f}"
        )
    js = sorted({int(r["js_count"]) for r in rows})
    print(f"JS worker count seen: {js}")
    loads = [r["load1"] for r in rows]
    print(
        f"load average (1 min): min {min(loads):.1f}, mean {statistics.mean(loads):.1f}, "
        f"max {max(loads):.1f}"
    )
    print(f"\n{'kind':10} {'requests':>9} {'errors':>7} {'per s':>7}")
    for kind in ["static", "kv read", "kv write", "beacon", "dashboard", "deploy"]:
        n = counts.ok[kind] + counts.bad[kind]
        print(f"{kind:10} {n:9} {counts.bad[kind]:7} {n / end:7.1f}")
        for why in counts.samples.get(kind, []):
            print(f"    e.g. {why}")
    total = sum(counts.ok.values()) + sum(counts.bad.values())
    print(f"{'total':10} {total:9} {sum(counts.bad.values()):7} {total / end:7.1f}")
    for (kind, cause), n in sorted(counts.causes.items()):
        print(f"errors: {kind}, {cause}: {n}")


def login(fz: Fazt) -> str:
    base = f"http://127.0.0.1:{fz.port}"
    headers = {"host": f"localhost:{fz.port}", "origin": f"http://localhost:{fz.port}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        resp = http.post("/login", data={"username": "admin", "password": PASSWORD})
    match = re.search(r"fazt_session=([^;]+)", resp.headers.get("set-cookie", ""))
    if resp.status_code != 303 or not match:
        sys.exit(f"login failed: {resp.status_code} {resp.text[:200]}")
    return f"fazt_session={match.group(1)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--rate", type=float, default=200, help="requests/s in total")
    parser.add_argument("--csv", default=f"/tmp/fazt-soak-{time.strftime('%Y%m%d-%H%M')}.csv")
    parser.add_argument("--sample-seconds", type=float, default=10)
    parser.add_argument("--tail-minutes", type=float, default=10, help="drift window")
    parser.add_argument("--timeout", type=float, default=30, help="client timeout, seconds")
    args = parser.parse_args()
    terminate_on_sigterm()
    print(machine_facts())
    rng, counts, stop = random.Random(1), Counts(), threading.Event()
    with Fazt() as fz:
        fz.cli("server", "init", "--db", str(fz.db), "--password", PASSWORD)
        fz.start()
        for site in SITES:
            (fz.home / site).mkdir()
            paths = make_site(fz.home / site, rng)
            fz.deploy(fz.home / site, site)
        make_app(fz.home / "kv")
        fz.deploy(fz.home / "kv", "kv")
        cookie = login(fz)
        args_key = ["server", "create-key", "--name", "soak", "--scopes", "admin"]
        admin_key = fz.cli(*args_key, "--db", str(fz.db)).stdout.strip()
        threads = clients(fz, paths, cookie, args, counts, stop)
        threads.append(threading.Thread(target=deployer, args=(fz, fz.home, counts, stop)))
        rows: list[dict] = []
        started = time.monotonic()
        with open(args.csv, "w", newline="") as out:
            fields = ["t", "supervisor", "worker", "js", "js_count", "cache", "load1"]
            fields += ["requests", "errors"]
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            for t in threads:
                t.start()
            try:
                while True:
                    elapsed = time.monotonic() - started
                    row = {
                        "t": round(elapsed, 1),
                        **sample(fz.pid),
                        "cache": cache_mb(fz, admin_key),
                    }
                    row["requests"] = sum(counts.ok.values()) + sum(counts.bad.values())
                    row["errors"] = sum(counts.bad.values())
                    rows.append(row)
                    writer.writerow({k: round(v, 2) for k, v in row.items()})
                    out.flush()
                    print(
                        f"{elapsed / 60:5.1f} min  sup {row['supervisor']:6.1f}  "
                        f"worker {row['worker']:6.1f}  js {row['js']:6.1f} "
                        f"({row['js_count']})  requests {row['requests']}  "
                        f"errors {row['errors']}  cache {row['cache']:.1f}  "
                        f"load {row['load1']:.1f}",
                        flush=True,
                    )
                    if elapsed >= args.minutes * 60 or stop.wait(args.sample_seconds):
                        break
            finally:
                stop.set()
                for t in threads:
                    t.join(120)
        report(rows, counts, args.tail_minutes)
        print(f"CSV: {args.csv}")


if __name__ == "__main__":
    main()
