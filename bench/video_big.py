"""A 2 GB video end to end: deploy with progress, kill at ~50%, resume, play and seek in
Chromium (issue 19). Too big for CI; the CI test is tests/browser/test_video_browser.py.

    python bench/video_big.py [--mb 2048] [--kill-at 0.5] [--set KEY=VALUE ...]

1. Writes a WebM of --mb MiB (bench/webm_big.py: VP8 keyframes, Cues, a Duration).
2. `fazt deploy` without a terminal (the progress lines: percent, rate, time left), killed
   with SIGKILL when the server has committed --kill-at of the file.
3. The same command again: it resumes (the share of the file it sent is printed).
4. Chromium (Debian's, through Playwright) opens the page, reads the duration, seeks to
   the middle, plays 1 s from there; the range requests it made are printed.

Never fails on timing; fails if the video does not play where it was sent.
"""

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Fazt, fazt_cmd, machine_facts, rss_kb, terminate_on_sigterm
from webm_big import make_webm

MiB = 1024 * 1024
CHROMIUM = os.environ.get("FAZT_CHROMIUM", "/usr/bin/chromium")
PAGE = "<!doctype html><video id=v src=big.webm muted preload=metadata></video>"
SEEK = """async () => {
  const v = document.getElementById('v');
  const once = (name) => new Promise((r) => v.addEventListener(name, r, {once: true}));
  if (v.readyState < 1) await once('loadedmetadata');
  const duration = v.duration, t0 = performance.now();
  const seen = once('seeked'); v.currentTime = duration / 2; await seen;
  const seekMs = performance.now() - t0, at = v.currentTime;
  await v.play(); await new Promise((r) => setTimeout(r, 1000)); v.pause();
  return {duration, at, seekMs, after: v.currentTime, ready: v.readyState,
          error: v.error && v.error.code};
}"""


def received(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT received FROM uploads").fetchone()
        return row[0] if row else 0
    finally:
        conn.close()


def deploy_killed(fz: Fazt, folder: Path, size: int, share: float) -> tuple[float, float, str]:
    """Run the deploy, SIGKILL it at `share` committed: (share, seconds, its progress)."""
    log = folder.parent / "first.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            fazt_cmd("deploy", str(folder), "--site", "video"),
            env=fz.env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    started, done = time.monotonic(), 0
    while proc.poll() is None and done < size * share:
        done = received(fz.db)
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return done / size, time.monotonic() - started, log.read_text()


def deploy_again(fz: Fazt, folder: Path) -> tuple[float, dict, str]:
    started = time.monotonic()
    out = subprocess.run(
        fazt_cmd("deploy", str(folder), "--site", "video", "--json"),
        env=fz.env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(f"resumed deploy failed:\n{out.stderr}")
    return time.monotonic() - started, json.loads(out.stdout), out.stderr


def play(port: int, seconds: float) -> tuple[dict, list]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
            headless=True,
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(120_000)
            seen: list = []
            page.on(
                "response",
                lambda r: (
                    seen.append((r.status, r.headers.get("content-range")))
                    if r.url.endswith("big.webm")
                    else None
                ),
            )
            started = time.monotonic()
            page.goto(f"http://video.localhost:{port}/")
            got = page.evaluate(SEEK)
            got["wallS"] = round(time.monotonic() - started, 2)
        finally:
            browser.close()
    return got, seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=2048)
    ap.add_argument("--kill-at", type=float, default=0.5)
    ap.add_argument("--set", nargs="*", default=[], help="settings, e.g. blob_cache_from_uploads=1")
    args = ap.parse_args()
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    work = Path(tempfile.mkdtemp(prefix="fazt-bench-video."))
    try:
        folder = work / "site"
        folder.mkdir()
        (folder / "index.html").write_text(PAGE)
        started = time.monotonic()
        seconds = make_webm(folder / "big.webm", args.mb * MiB)
        size = (folder / "big.webm").stat().st_size
        print(
            f"video: {size / MiB:.0f} MiB, {seconds:.0f} s, written in "
            f"{time.monotonic() - started:.1f}s"
        )
        with Fazt() as fz:
            fz.start()
            if args.set:  # settings read at start: start again with them
                fz.cli("server", "set-config", *args.set, "--db", str(fz.db))
                fz.stop()
                fz.start()
            idle = rss_kb(fz.pid)
            at, secs, progress = deploy_killed(fz, folder, size, args.kill_at)
            print(
                f"first deploy killed after {secs:.1f}s with {at:.0%} committed; "
                f"load average {os.getloadavg()[0]:.1f}; its progress lines:"
            )
            print("  " + "\n  ".join(progress.strip().splitlines()))
            secs, out, _ = deploy_again(fz, folder)
            sent = out["uploaded_bytes"] / size
            print(
                f"rerun: {secs:.1f}s, sent {sent:.0%} of the file, live={out['live']}; "
                f"server RSS idle {idle // 1024} MB, now {rss_kb(fz.pid) // 1024} MB; "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            got, ranges = play(fz.port, seconds)
            print(f"chromium: {json.dumps(got)}")
            print(f"range answers: {ranges[:8]}{' ...' if len(ranges) > 8 else ''}")
            ok = (
                got["error"] is None
                and abs(got["duration"] - seconds) < 2
                and abs(got["at"] - seconds / 2) < 2
                and got["after"] > got["at"]
                and any(status == 206 for status, _ in ranges)
            )
            print(f"played and seeked: {ok}")
            return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
