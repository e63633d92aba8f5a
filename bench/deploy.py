"""Deploy benchmark: the wall time of the real `fazt deploy` CLI over loopback.

    python bench/deploy.py [--runs 3] [--redeploys 5] [--files 1000] [--mb 20]

1. Full deploy: a generated 1,000-file / 20 MB site (mixed sizes: many small text files,
   images, a few large assets; random content so blobs do not dedupe). Each run deploys
   freshly generated content to a new site on the same server. Target: <= 3 s.
2. Re-deploy with one file changed: uploads exactly one file (checked in the --json
   output: uploaded_files == 1). Target: <= 0.5 s.
Also prints the CLI's own start-up time (`fazt --help`), the floor under any deploy, and
for each deploy the CPU time of the CLI process and of the server while it ran (on 2 cores
the two compete with each other and with anything else running).

Last lines: "deploy 1000 files / 20 MB: median X.XXs (target <= 3s)" and
"re-deploy 1 file changed: median X.XXs (target <= 0.5s)". Never fails on timing.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Fazt, fazt_cmd, generate_site, get, machine_facts, terminate_on_sigterm

FULL_TARGET = 3.0
REDEPLOY_TARGET = 0.5


def cli_startup(runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(fazt_cmd("--help"), capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="full deploys (fresh content each)")
    ap.add_argument("--redeploys", type=int, default=5, help="one-file-changed re-deploys")
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--mb", type=float, default=20)
    args = ap.parse_args()
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    work = Path(tempfile.mkdtemp(prefix="fazt-bench-deploy."))
    full, again, problems = [], [], []
    try:
        with Fazt() as fz:
            fz.start()
            fz.deploy(_tiny(work), "warmup")  # first-deploy costs outside the measurement
            print(f"fazt pid {fz.pid} on 127.0.0.1:{fz.port}")
            print(f"CLI start-up (`fazt --help`): {cli_startup():.2f}s")
            total = int(args.mb * 1024 * 1024)
            folder, paths = work, []
            for run in range(args.runs):
                folder = work / f"site{run}"
                paths = generate_site(folder, seed=1000 + run, files=args.files, total_bytes=total)
                size = sum(p.stat().st_size for p in paths)
                out, secs = fz.deploy(folder, f"big{run}")
                full.append(secs)
                print(
                    f"full deploy {run + 1}: {secs:.2f}s  ({out['file_count']} files, "
                    f"{size / 1024 / 1024:.1f} MB, uploaded {out['uploaded_files']}; "
                    f"CPU: CLI {out['_cpu'][0]:.2f}s, server {out['_cpu'][1]:.2f}s)"
                )
                if out["uploaded_files"] != len(paths):
                    problems.append(f"run {run + 1} uploaded {out['uploaded_files']} files")
            site = f"big{args.runs - 1}"
            for run in range(args.redeploys):
                changed = paths[1 + run % (len(paths) - 1)]
                changed.write_bytes(changed.read_bytes() + f"\nchanged {run}\n".encode())
                out, secs = fz.deploy(folder, site)
                again.append(secs)
                rel = changed.relative_to(folder).as_posix()
                print(
                    f"re-deploy {run + 1}: {secs:.2f}s  (changed {rel}, "
                    f"uploaded_files {out['uploaded_files']}; "
                    f"CPU: CLI {out['_cpu'][0]:.2f}s, server {out['_cpu'][1]:.2f}s)"
                )
                if out["uploaded_files"] != 1:
                    problems.append(f"re-deploy {run + 1} uploaded {out['uploaded_files']} files")
                status, body = get(fz.port, "/" + rel, f"{site}.localhost")
                if status != 200 or body != changed.read_bytes():
                    problems.append(f"re-deploy {run + 1}: /{rel} answered {status}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if full:
        print(
            f"deploy {args.files} files / {args.mb:g} MB: median {statistics.median(full):.2f}s "
            f"(target <= {FULL_TARGET:g}s)"
        )
    if again:
        print(
            f"re-deploy 1 file changed: median {statistics.median(again):.2f}s "
            f"(target <= {REDEPLOY_TARGET:g}s)"
        )
    return 1 if problems else 0


def _tiny(work: Path) -> Path:
    folder = work / "warmup"
    folder.mkdir()
    (folder / "index.html").write_text("<p>warm-up</p>\n")
    return folder


if __name__ == "__main__":
    sys.exit(main())
