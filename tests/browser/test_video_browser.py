"""A deployed WebM video plays in Chromium and seeks to its middle: the browser's own
range requests against the disk blob cache's answers.

The clip is made by Chromium itself (MediaRecorder over an animated canvas), so the test
needs no fixture file and no ffmpeg. MediaRecorder writes no duration, so the page first
seeks far past the end (the browser then learns the real duration), then to the middle.
"""

import base64
from collections.abc import Iterator

import pytest

from tests.conftest import FaztServer, running_server, write_site

TIMEOUT = 30_000  # ms
RECORD = """async () => {
  const c = document.createElement('canvas'); c.width = 320; c.height = 240;
  document.body.appendChild(c);
  const g = c.getContext('2d'); let n = 0;
  const tick = setInterval(() => {
    g.fillStyle = `hsl(${(n++ * 7) % 360}, 80%, 50%)`; g.fillRect(0, 0, 320, 240);
    g.fillStyle = '#000'; g.font = '48px sans-serif'; g.fillText(String(n), 40, 140);
  }, 33);
  const rec = new MediaRecorder(c.captureStream(30),
    {mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: 600000});
  const parts = []; rec.ondataavailable = (e) => parts.push(e.data);
  const stopped = new Promise((r) => { rec.onstop = r; });
  rec.start(500); await new Promise((r) => setTimeout(r, 4000)); rec.stop(); await stopped;
  clearInterval(tick);
  const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
  let s = ''; for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}"""
PAGE = "<!doctype html><video id=v src=clip.webm muted preload=auto></video>"
SEEK = """async () => {
  const v = document.getElementById('v');
  const once = (name) => new Promise((r) => v.addEventListener(name, r, {once: true}));
  if (v.readyState < 1) await once('loadedmetadata');
  if (!isFinite(v.duration)) { const seen = once('seeked'); v.currentTime = 1e6; await seen; }
  const duration = v.duration;
  const seen = once('seeked'); v.currentTime = duration / 2; await seen;
  const at = v.currentTime;
  await v.play(); await new Promise((r) => setTimeout(r, 300)); v.pause();
  return {duration, at, after: v.currentTime, ready: v.readyState, error: v.error && v.error.code};
}"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory, chromium) -> Iterator[FaztServer]:
    page = chromium.new_page()
    page.set_content("<html><body></body></html>")
    clip = base64.b64decode(page.evaluate(RECORD))
    page.close()
    assert 64 * 1024 < len(clip) < 2_000_000, len(clip)  # sent from the disk cache
    root = tmp_path_factory.mktemp("video")
    with running_server(root / "home") as s:
        s.deploy(write_site(root / "site", {"index.html": PAGE, "clip.webm": clip}), "video")
        yield s


def test_video_plays_and_seeks_to_its_middle(srv, chromium):
    context = chromium.new_context()
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    statuses = []
    page.on(
        "response",
        lambda r: (
            statuses.append((r.status, r.headers.get("content-range")))
            if r.url.endswith("clip.webm")
            else None
        ),
    )
    try:
        page.goto(f"http://video.localhost:{srv.port}/")
        got = page.evaluate(SEEK)
    finally:
        context.close()
    assert got["error"] is None
    assert 3.0 < got["duration"] < 6.0, got
    assert abs(got["at"] - got["duration"] / 2) < 0.5, got
    assert got["ready"] >= 2, got  # a frame at the new position
    assert got["after"] > got["at"], got  # and it plays on from there
    assert any(status == 206 and rng for status, rng in statuses), statuses
