"""Big files: one 100 MB (and optionally 1 GB) file from fazt vs nginx, whole by one
client and in random 1 MiB Range reads by 16 clients.

    python bench/bigfile.py [--sizes 100,1024] [--rounds 3] [--duration 5]

Writes random files to a temp folder, deploys them to a throwaway fazt (its per-file and
per-deploy limits raised for the run), serves the folder with ../shared/bench/nginx-
static, and runs ../shared/bench/wrk-ratio (alternating A/B rounds) with
random-ranges.lua. The worker's RSS is sampled every 0.2 s during the runs. Targets:
fazt/nginx >= 0.5, worker RSS within +50 MB of idle.

Last lines: "bigfile <N> MB <case>: fazt/nginx = X.XX (target >= 0.5)" and the RSS line.
Never fails on timing; all processes it starts are stopped by pid, temp folders removed.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    SHARED_BENCH,
    Fazt,
    PeakRSS,
    free_port,
    get,
    machine_facts,
    mb,
    missing_wrk_or_nginx,
    rss_kb,
    run_group,
    terminate_on_sigterm,
    worker_pid,
)
from static import nginx_start, nginx_stop

SITE = "big"
MIB = 1024 * 1024
LUA = Path(__file__).resolve().parent / "random-ranges.lua"
CASES = [("1 client, whole file", 1, 0), ("16 clients, random 1 MiB ranges", 16, MIB)]


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        block = os.urandom(8 * MIB)
        for offset in range(0, size, len(block)):
            # Each block differs: no two blocks of the file are the same bytes.
            f.write(block[: size - offset][:-8] + offset.to_bytes(8, "big"))


def ratio(fz: Fazt, nginx_port: int, name: str, size: int, conns: int, length: int, args):
    cmd = [
        str(SHARED_BENCH / "wrk-ratio"),
        *("--rounds", str(args.rounds), "--duration", str(args.duration)),
        *("--conns", str(conns), "--host-a", f"{SITE}.localhost"),
        *("--lua", str(LUA), "--lua-arg", str(size), "--lua-arg", str(length)),
        f"http://127.0.0.1:{fz.port}/{name}",
        f"http://127.0.0.1:{nginx_port}/{name}",
    ]
    out = run_group(cmd, timeout=120 + (2 * args.rounds + 2) * (args.duration + 30))
    sys.stdout.write(out.stdout + out.stderr)
    for line in out.stdout.splitlines():
        if line.startswith("median"):
            a = float(line.split()[2])
            print(f"  fazt {a * (length or size) / 1e6:.0f} MB/s")
    found = [ln for ln in out.stdout.splitlines() if ln.startswith("ratio A/B")]
    return found[-1].split("=")[1].strip() if found else "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100", help="file sizes in MiB, comma-separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--deploy-timeout", type=int, default=900, help="seconds")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a fazt setting for the run (e.g. blob_cache_max_mb=0: the disk cache off)",
    )
    args = ap.parse_args()
    if missing_wrk_or_nginx("bigfile"):
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}, load average {os.getloadavg()[0]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="fazt-bench-big."))
    tmp.chmod(0o755)
    folder = tmp / "site"
    folder.mkdir(mode=0o755)
    sizes = [int(s) * MIB for s in args.sizes.split(",")]
    results, nginx_state = [], None
    try:
        for size in sizes:
            (folder / f"f{size // MIB}.bin").write_bytes(b"")
            write_random(folder / f"f{size // MIB}.bin", size)
            (folder / f"f{size // MIB}.bin").chmod(0o644)
        with Fazt() as fz:
            fz.start()
            limit = str(max(sizes) + 64 * MIB)
            for key in ("deploy_max_file_bytes", "deploy_max_upload_bytes"):
                fz.cli("server", "set-config", f"{key}={limit}", "--db", str(fz.db))
            fz.cli(
                "server",
                "set-config",
                f"deploy_max_total_bytes={2 * int(limit)}",
                *args.set,
                "--db",
                str(fz.db),
            )
            fz.stop()
            fz.start()
            idle = rss_kb(worker_pid(fz.pid))
            started = time.monotonic()
            fz.cli("deploy", str(folder), "--site", SITE, "--json", timeout=args.deploy_timeout)
            seconds = time.monotonic() - started
            print(f"deploy of {sum(sizes) / MIB:.0f} MiB: {seconds:.1f} s")
            fz.stop()  # a fresh worker: the deploy's own memory is not the serving's
            fz.start()
            worker = worker_pid(fz.pid)
            idle = rss_kb(worker)
            nginx_port = free_port()
            nginx_state = nginx_start(folder, nginx_port)
            for size in sizes:
                name = f"f{size // MIB}.bin"
                started = time.monotonic()
                status, _ = get(fz.port, f"/{name}", f"{SITE}.localhost", timeout=600)
                print(f"{name}: first GET {status} in {time.monotonic() - started:.1f} s")
                copy = fz.home / "blob-cache"
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:  # the disk copy is made in the background
                    if any(p.stat().st_size == size for p in copy.rglob("*") if p.is_file()):
                        break
                    time.sleep(0.2)
                # Before the cases: what the first (uncached) answer left behind.
                print(
                    f"worker RSS after the first GET and its disk copy: {mb(rss_kb(worker)):.0f} MB"
                )
                for label, conns, length in CASES:
                    print(f"-- {size // MIB} MiB, {label}")
                    with PeakRSS(worker) as rss:
                        r = ratio(fz, nginx_port, name, size, conns, length, args)
                    results.append((size, label, r, rss.peak))
    finally:
        if nginx_state is not None:
            nginx_stop(nginx_state)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"worker RSS idle: {mb(idle):.0f} MB")
    for size, label, r, peak in results:
        print(
            f"bigfile {size // MIB} MiB {label}: fazt/nginx = {r} (target >= 0.5), "
            f"worker RSS peak {mb(peak):.0f} MB (+{mb(peak - idle):.0f} MB over idle)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
