"""A big, valid, seekable WebM of any size, written without an encoder binary.

Every frame is a VP8 keyframe: Pillow's lossy WebP holds exactly one (the `VP8 ` chunk of
the RIFF file), which is what a WebM `V_VP8` block carries. A few noisy frames (noise does
not compress, so frames are big) are encoded once and repeated; keyframes stand alone, so
any order plays. One cluster per second, a Cues entry per cluster and a Duration, so a
player seeks straight to the middle with one range request instead of scanning the file.

    make_webm(path, size_bytes) -> seconds of video
"""

import io
import os
import struct
from pathlib import Path

from PIL import Image, ImageDraw

FPS = 10
WIDTH, HEIGHT = 1280, 720
DISTINCT_FRAMES = 12
UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"

# Matroska element IDs (their bytes include the length marker).
EBML, DOC_TYPE, DOC_VERSION, DOC_READ_VERSION = 0x1A45DFA3, 0x4282, 0x4287, 0x4285
SEGMENT, SEEK_HEAD, SEEK, SEEK_ID, SEEK_POSITION = 0x18538067, 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
INFO, TIMECODE_SCALE, DURATION, MUXING_APP, WRITING_APP = (
    0x1549A966,
    0x2AD7B1,
    0x4489,
    0x4D80,
    0x5741,
)
TRACKS, TRACK_ENTRY, TRACK_NUMBER, TRACK_UID, TRACK_TYPE = 0x1654AE6B, 0xAE, 0xD7, 0x73C5, 0x83
CODEC_ID, VIDEO, PIXEL_WIDTH, PIXEL_HEIGHT = 0x86, 0xE0, 0xB0, 0xBA
CUES, CUE_POINT, CUE_TIME, CUE_TRACK_POSITIONS = 0x1C53BB6B, 0xBB, 0xB3, 0xB7
CUE_TRACK, CUE_CLUSTER_POSITION = 0xF7, 0xF1
CLUSTER, TIMECODE, SIMPLE_BLOCK = 0x1F43B675, 0xE7, 0xA3


def _id(element: int) -> bytes:
    return element.to_bytes((element.bit_length() + 7) // 8, "big")


def _size(n: int) -> bytes:
    """EBML variable-length size (8 bytes: always enough, and easy to predict)."""
    return (n | (1 << 56)).to_bytes(8, "big")


def el(element: int, payload: bytes) -> bytes:
    return _id(element) + _size(len(payload)) + payload


def uint(element: int, value: int) -> bytes:
    return el(element, value.to_bytes(8, "big"))


def frames() -> list[bytes]:
    """DISTINCT_FRAMES VP8 keyframes of noise with their number drawn on."""
    out = []
    for n in range(DISTINCT_FRAMES):
        im = Image.frombytes("RGB", (WIDTH, HEIGHT), os.urandom(WIDTH * HEIGHT * 3))
        ImageDraw.Draw(im).rectangle((40, 40, 300, 160), fill=(n * 20, 0, 0))
        buf = io.BytesIO()
        im.save(buf, "WEBP", quality=100, method=0)
        out.append(_vp8_chunk(buf.getvalue()))
    return out


def _vp8_chunk(webp: bytes) -> bytes:
    at = 12  # after "RIFF" size "WEBP"
    while at < len(webp):
        kind, length = webp[at : at + 4], struct.unpack("<I", webp[at + 4 : at + 8])[0]
        if kind == b"VP8 ":
            return webp[at + 8 : at + 8 + length]
        at += 8 + length + (length & 1)
    raise ValueError("no lossy VP8 frame in the WebP")


def _cluster(second: int, pictures: list[bytes]) -> bytes:
    blocks = b""
    for i in range(FPS):
        data = pictures[(second * FPS + i) % len(pictures)]
        header = b"\x81" + struct.pack(">h", i * 1000 // FPS) + b"\x80"  # track 1, keyframe
        blocks += el(SIMPLE_BLOCK, header + data)
    return el(CLUSTER, uint(TIMECODE, second * 1000) + blocks)


def make_webm(path: Path, size_bytes: int) -> float:
    """Write a WebM of at least `size_bytes`; its duration in seconds."""
    pictures = frames()
    per_second = len(_cluster(0, pictures))
    seconds = max(2, -(-size_bytes // per_second))
    sizes = [len(_cluster(s, pictures)) for s in range(len(pictures))]  # they repeat
    head = el(EBML, el(DOC_TYPE, b"webm") + uint(DOC_VERSION, 2) + uint(DOC_READ_VERSION, 2))
    info = el(
        INFO,
        uint(TIMECODE_SCALE, 1_000_000)
        + el(DURATION, struct.pack(">d", seconds * 1000.0))
        + el(MUXING_APP, b"fazt bench")
        + el(WRITING_APP, b"fazt bench"),
    )
    video = el(VIDEO, uint(PIXEL_WIDTH, WIDTH) + uint(PIXEL_HEIGHT, HEIGHT))
    tracks = el(
        TRACKS,
        el(
            TRACK_ENTRY,
            uint(TRACK_NUMBER, 1)
            + uint(TRACK_UID, 1)
            + uint(TRACK_TYPE, 1)
            + el(CODEC_ID, b"V_VP8")
            + video,
        ),
    )
    seek_len = len(_seek_head(0, 0, 0))
    cues_len = len(_cues([0] * seconds))
    info_at = seek_len
    tracks_at = info_at + len(info)
    cues_at = tracks_at + len(tracks)
    first_cluster = cues_at + cues_len
    positions, at = [], first_cluster
    for s in range(seconds):
        positions.append(at)
        at += sizes[s % len(sizes)]
    with open(path, "wb") as fh:
        fh.write(head + _id(SEGMENT) + UNKNOWN_SIZE)
        fh.write(_seek_head(info_at, tracks_at, cues_at) + info + tracks + _cues(positions))
        for s in range(seconds):
            fh.write(_cluster(s, pictures))
    return float(seconds)


def _seek_head(info_at: int, tracks_at: int, cues_at: int) -> bytes:
    def seek(element: int, position: int) -> bytes:
        return el(SEEK, el(SEEK_ID, _id(element)) + uint(SEEK_POSITION, position))

    return el(SEEK_HEAD, seek(INFO, info_at) + seek(TRACKS, tracks_at) + seek(CUES, cues_at))


def _cues(positions: list[int]) -> bytes:
    points = b"".join(
        el(
            CUE_POINT,
            uint(CUE_TIME, s * 1000)
            + el(CUE_TRACK_POSITIONS, uint(CUE_TRACK, 1) + uint(CUE_CLUSTER_POSITION, pos)),
        )
        for s, pos in enumerate(positions)
    )
    return el(CUES, points)
