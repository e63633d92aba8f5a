"""Resized image variants: the first request for a 12 MP JPEG at w=640 (JPEG and WebP),
and cached variants' req/s against a static file of the same bytes.

    python bench/image_variants.py [--photos 3] [--rounds 3] [--duration 5] [--conns 64]

Generates realistic 4000x3000 JPEGs with Pillow (gradients, shapes and noise, ~3-4 MB
each; one per --photos so every first request is cold), deploys them to a throwaway fazt
server and times each cold request from the client (HTTP included). Also times the same
work in this process (decode with draft, resize, encode) to show where the time goes.
Then ../shared/bench/wrk-ratio alternates A: a cached variant (`?w=640&format=webp`) and
B: the very same bytes deployed as a plain file (fazt's hot path): the variant path's
overhead. Target: a first request <= 300 ms on a quiet machine; the load average is
printed, since this one is rarely quiet.

Last line: "image variant w=640: first jpeg X ms, webp Y ms (target <= 300); cached/static
= Z". Never fails on timing. Processes it starts are stopped by pid, temp folders removed.
"""

import argparse
import io
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    SHARED_BENCH,
    Fazt,
    get,
    machine_facts,
    mb,
    rss_kb,
    run_group,
    terminate_on_sigterm,
)
from PIL import Image, ImageDraw, ImageFilter

SITE = "photos"
HOST = f"{SITE}.localhost"
SIZE = (4000, 3000)


def make_photo(seed: int) -> bytes:
    """A 12 MP JPEG with a photo's texture: smooth gradients, soft shapes, sensor noise."""
    width, height = SIZE
    sky = Image.linear_gradient("L").resize(SIZE)
    ground = Image.radial_gradient("L").resize(SIZE)
    base = Image.merge("RGB", (sky, ground, sky.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    draw = ImageDraw.Draw(base)
    for i in range(40):
        x, y = (seed * 997 + i * 389) % width, (seed * 613 + i * 211) % height
        r = 60 + (i * 53) % 400
        draw.ellipse((x - r, y - r, x + r, y + r), fill=((i * 40) % 256, (i * 90) % 256, 120))
    base = base.filter(ImageFilter.GaussianBlur(6))
    # Per-channel sensor noise: the fine texture that makes a camera's JPEG 3-5 MB.
    noise = Image.merge("RGB", [Image.effect_noise(SIZE, 40 + 5 * c) for c in range(3)])
    photo = Image.blend(base, noise, 0.3)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=88)
    return out.getvalue()


def timed_get(port: int, path: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    status, body = get(port, path, HOST, timeout=60)
    return (time.perf_counter() - started) * 1000, status, body


def in_process(photo: bytes) -> dict[str, float]:
    """The same steps as fazt.hosting.image_render, timed one by one (ms)."""
    from fazt.hosting import image_render

    times = {}
    started = time.perf_counter()
    im = Image.open(io.BytesIO(photo))
    im.draft("RGB", (640, 480))
    im.load()
    times["decode (draft)"] = time.perf_counter()
    small = im.resize((640, 480), Image.Resampling.LANCZOS)
    times["resize"] = time.perf_counter()
    small.save(io.BytesIO(), "JPEG", quality=82)
    times["encode jpeg"] = time.perf_counter()
    small.save(io.BytesIO(), "WEBP", quality=80, method=2)
    times["encode webp"] = time.perf_counter()
    Image.open(io.BytesIO(photo)).load()
    times["full decode, no draft"] = time.perf_counter()
    for fmt in ("jpeg", "webp"):
        image_render.render(photo, 640, fmt, 50_000_000)
        times[f"render() {fmt}"] = time.perf_counter()
    out, last = {}, started
    for step, at in times.items():
        out[step], last = (at - last) * 1000, at
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=3, help="distinct photos (cold requests)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=64)
    args = ap.parse_args()
    if not shutil.which("wrk") or not (SHARED_BENCH / "wrk-ratio").exists():
        print("image_variants: needs wrk and ../shared/bench/wrk-ratio")
        return 2
    terminate_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    print(f"machine: {machine_facts()}")
    folder = Path(tempfile.mkdtemp(prefix="fazt-bench-images."))
    try:
        photos = [make_photo(seed) for seed in range(args.photos)]
        print(
            f"photos: {len(photos)} x {SIZE[0]}x{SIZE[1]} JPEG, "
            f"{statistics.mean(len(p) for p in photos) / 1e6:.1f} MB each"
        )
        for i, photo in enumerate(photos):
            (folder / f"p{i}.jpg").write_bytes(photo)
        steps = in_process(photos[0])
        print("in process (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in steps.items()))
        with Fazt() as fz:
            fz.start()
            fz.deploy(folder, SITE)
            idle = rss_kb(fz.pid)
            for i in range(len(photos)):  # the originals into the static cache first
                get(fz.port, f"/p{i}.jpg", HOST, timeout=30)
            first: dict[str, list[float]] = {"jpeg": [], "webp": []}
            for i in range(len(photos)):
                for fmt in first:
                    ms, status, body = timed_get(fz.port, f"/p{i}.jpg?w=640&format={fmt}")
                    assert status == 200, body[:200]
                    first[fmt].append(ms)
                    again, _, _ = timed_get(fz.port, f"/p{i}.jpg?w=640&format={fmt}")
                    print(
                        f"p{i} {fmt}: first {ms:.0f} ms ({len(body) / 1000:.0f} KB), "
                        f"then {again:.1f} ms; load average {os.getloadavg()[0]:.1f}"
                    )
            print(
                f"server RSS (supervisor + worker): {mb(idle):.0f} MB after the deploy, "
                f"{mb(rss_kb(fz.pid)):.0f} MB after the variants"
            )
            _, _, variant = timed_get(fz.port, "/p0.jpg?w=640&format=webp")
            same = folder / "same"
            same.mkdir()
            (same / "same.webp").write_bytes(variant)
            fz.deploy(same, "same")
            ratio = _ratio_same_bytes(fz, args)
        jpeg, webp = statistics.median(first["jpeg"]), statistics.median(first["webp"])
        print(f"load average (1, 5, 15 min): {os.getloadavg()}")
        shown = f"{ratio:.2f}" if ratio is not None else "?"
        print(
            f"image variant w=640: first jpeg {jpeg:.0f} ms, webp {webp:.0f} ms "
            f"(target <= 300); cached/static = {shown}"
        )
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ratio_same_bytes(fz: Fazt, args: argparse.Namespace) -> float | None:
    """A: the cached variant; B: the same bytes as a plain file of site `same`."""
    base = f"http://127.0.0.1:{fz.port}"
    cmd = [str(SHARED_BENCH / "wrk-ratio"), "--rounds", str(args.rounds)]
    cmd += ["--duration", str(args.duration), "--conns", str(args.conns)]
    cmd += ["--host-a", HOST, "--host-b", "same.localhost"]
    cmd += [f"{base}/p0.jpg?w=640&format=webp", f"{base}/same.webp"]
    out = run_group(cmd, timeout=30 + (2 * args.rounds + 2) * (args.duration + 10))
    sys.stdout.write(out.stdout + out.stderr)
    found = re.search(r"ratio A/B = ([\d.]+)", out.stdout)
    return float(found.group(1)) if found else None


if __name__ == "__main__":
    sys.exit(main())
