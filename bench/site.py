"""A whole real site at random paths: Debian's Python 3.11 HTML docs from fazt vs nginx.

    apt-get install -y python3.11-doc wrk nginx-light
    python bench/site.py [--rounds 3] [--duration 5] [--conns 64] [--docs DIR]

Copies the docs (symlinks followed) to a temp folder with a manifest.json that turns the
analytics script off (so both servers send the same bytes), deploys it to a throwaway
fazt with default settings, serves the same folder with ../shared/bench/nginx-static,
and runs ../shared/bench/wrk-ratio with random-paths.lua (every file, uniformly at
random), alternating rounds. Prints the worker's RSS after the runs and the disk blob
cache's size. Target: fazt/nginx >= 0.8, worker RSS <= 100 MB.

Last line: "site random paths: fazt/nginx = X.XX (target >= 0.8), worker RSS N MB".
Never fails on timing; all processes it starts are stopped by pid, temp folders removed.
"""

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote

from benchlib import (
    SHARED_BENCH,
    Fazt,
    free_port,
    get,
    machine_facts,
    mb,
    missing_wrk_or_nginx,
    rss_kb,
    run_group,
    terminate_on_sigterm,
    tree_cpu_seconds,
    worker_pid,
)
from static import nginx_start, nginx_stop

DOCS = Path("/usr/share/doc/python3.11/html")
SITE = "docs"
TARGET = 0.8


def copy_docs(source: Path, folder: Path) -> list[str]:
    """The docs with symlinks resolved, plus the manifest; returns the URL paths."""
    shutil.copytree(source, folder, symlinks=False, dirs_exist_ok=True)
    (folder / "manifest.json").write_text('{"analytics": false}')
    paths = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        hidden = any(part.startswith(".") for part in rel.parts)  # fazt deploys no dotfiles
        if path.is_file() and path.name != "manifest.json" and not hidden:
            paths.append("/" + quote(rel.as_posix()))
    for d in [folder, *[p for p in folder.rglob("*") if p.is_dir()]]:
        d.chmod(0o755)  # nginx's worker runs as another user
    return paths


def sized(folder: Path, paths: list[str], min_kb: float, max_kb: float | None) -> list[str]:
    """The paths whose files are within the size bounds (to see which sizes cost what)."""
    if not min_kb and max_kb is None:
        return paths
    kept = []
    for path in paths:
        size = (folder / unquote(path[1:])).stat().st_size / 1024
        if size >= min_kb and (max_kb is None or size <= max_kb):
            kept.append(path)
    print(f"requesting {len(kept)} of {len(paths)} files ({min_kb}-{max_kb} KiB)")
    return kept


def print_cpu_per_request(
    wrk_out: str, duration: int, before: tuple[float, float], after: tuple[float, float]
) -> None:
    """CPU time per answer of each server over all its rounds: unlike req/s, it barely
    moves when other work shares the machine, so runs on a busy machine still compare."""
    sides = {"A": [], "B": []}
    for side, rps in re.findall(r"([AB]) (\d+) req/s", wrk_out):
        sides[side].append(float(rps) * duration)
    for i, (side, name) in enumerate((("A", "fazt"), ("B", "nginx"))):
        answers = sum(sides[side])
        if answers:
            micros = (after[i] - before[i]) / answers * 1e6
            print(f"CPU per answer: {name} {micros:.0f} us ({answers:.0f} answers)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--docs", type=Path, default=DOCS)
    ap.add_argument("--min-kb", type=float, default=0, help="request only files this big or bigger")
    ap.add_argument("--max-kb", type=float, help="request only files this big or smaller")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a fazt setting for the run (e.g. blob_cache_max_mb=0: the disk cache off)",
    )
    args = ap.parse_args()
    if not args.docs.is_dir():
        print(f"site: no {args.docs} (apt-get install -y python3.11-doc)")
        return 2
    if missing_wrk_or_nginx("site"):
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}, load average {os.getloadavg()[0]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="fazt-bench-site."))
    tmp.chmod(0o755)
    nginx_state = None
    try:
        folder = tmp / "html"
        paths = copy_docs(args.docs, folder)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"site: {len(paths)} files, {size / 1e6:.1f} MB from {args.docs}")
        with Fazt() as fz:
            fz.start()
            if args.set:
                fz.cli("server", "set-config", *args.set, "--db", str(fz.db))
                fz.stop()
                fz.start()
                print(f"settings: {' '.join(args.set)}")
            fresh = rss_kb(worker_pid(fz.pid))
            _, seconds = fz.deploy(folder, SITE)
            deployed = rss_kb(worker_pid(fz.pid))
            print(
                f"deploy: {seconds:.1f} s; worker RSS {mb(fresh):.0f} MB before it, "
                f"{mb(deployed):.0f} MB after it"
            )
            # A fresh worker, as after any restart: the RSS below is the serving's own
            # (the deploy's transient memory is measured above).
            fz.stop()
            fz.start()
            nginx_port = free_port()
            nginx_state = nginx_start(folder, nginx_port)
            host = f"{SITE}.localhost"
            for path in paths[:: max(1, len(paths) // 50)]:
                for port, h in ((fz.port, host), (nginx_port, "localhost")):
                    status, _ = get(port, path, h)
                    if status != 200:
                        raise RuntimeError(f"{path} on port {port}: {status}")
            paths = sized(folder, paths, args.min_kb, args.max_kb)
            paths_file = tmp / "paths.txt"
            paths_file.write_text("\n".join(paths) + "\n")
            idle = rss_kb(worker_pid(fz.pid))
            cmd = [
                str(SHARED_BENCH / "wrk-ratio"),
                *("--rounds", str(args.rounds), "--duration", str(args.duration)),
                *("--conns", str(args.conns), "--host-a", host),
                *("--lua", str(SHARED_BENCH / "random-paths.lua"), "--lua-arg", str(paths_file)),
                f"http://127.0.0.1:{fz.port}/",
                f"http://127.0.0.1:{nginx_port}/",
            ]
            nginx_pid = int((nginx_state / "nginx.pid").read_text())
            cpu_before = tree_cpu_seconds(fz.pid), tree_cpu_seconds(nginx_pid)
            out = run_group(cmd, timeout=60 + (2 * args.rounds + 2) * (args.duration + 10))
            cpu_after = tree_cpu_seconds(fz.pid), tree_cpu_seconds(nginx_pid)
            sys.stdout.write(out.stdout + out.stderr)
            print_cpu_per_request(out.stdout, args.duration, cpu_before, cpu_after)
            worker = rss_kb(worker_pid(fz.pid))
            cache = fz.home / "blob-cache"
            on_disk = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
            print(f"worker RSS: {mb(idle):.0f} MB before, {mb(worker):.0f} MB after")
            print(f"disk blob cache: {on_disk / 1e6:.1f} MB")
    finally:
        if nginx_state is not None:
            nginx_stop(nginx_state)
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = next(
        (ln.split("=")[1].strip() for ln in out.stdout.splitlines() if "ratio" in ln), "n/a"
    )
    print(
        f"site random paths: fazt/nginx = {ratio} (target >= {TARGET}), "
        f"worker RSS {mb(worker):.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
