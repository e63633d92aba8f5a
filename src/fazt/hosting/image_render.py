"""Resizing and re-encoding one image with Pillow (CPU work: run it with fazt.cpu.run_cpu).

What a variant is: the source turned upright by its EXIF orientation, scaled down (never
up) to the width asked, encoded in the format asked, with no metadata but the colour
profile: EXIF (GPS position, camera, times), XMP and comments are dropped. Animated images
are not resized (`render` returns None: serve the original), because re-encoding every
frame of a long GIF is the kind of work a visitor should not be able to ask for.

Guards: the declared pixel count is checked against `max_pixels` before any pixel is
decoded (a 100 KB PNG can declare 50 000 x 50 000 pixels), and Pillow's own
`Image.MAX_IMAGE_PIXELS` is set to the same limit as a second line.
"""

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError, features

from fazt.hosting.image_query import FORMATS, VariantError

QUALITY = {"jpeg": 82, "webp": 80, "avif": 60}
PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF"}
MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "avif": "image/avif"}
ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
ORIENTATION = 0x0112
# Pillow only warns between MAX_IMAGE_PIXELS and twice that: make it a refusal. Set once
# for the process (catch_warnings() per call is not thread-safe; renders run on 2 threads).
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def supported_formats() -> tuple[str, ...]:
    """The output formats this Pillow can encode (AVIF needs a build with libavif)."""
    return tuple(f for f in FORMATS if f != "avif" or features.check("avif"))


def render(data: bytes, width: int | None, fmt: str, max_pixels: int) -> bytes | None:
    """The variant's bytes; None when the source is animated (serve the original)."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data)) as im:
            _check_size(im, max_pixels)
            if getattr(im, "is_animated", False):
                return None
            return _encode(_upright_resized(im, width), fmt)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise VariantError("IMAGE_UNREADABLE", f"the image cannot be decoded: {exc}") from None


def _check_size(im: Image.Image, max_pixels: int) -> None:
    if im.width * im.height > max_pixels:
        raise _too_large(max_pixels)


def _too_large(max_pixels: int) -> VariantError:
    return VariantError(
        "IMAGE_TOO_LARGE", f"the image has more than {max_pixels} pixels (image_max_pixels)"
    )


def _upright_resized(im: Image.Image, width: int | None) -> Image.Image:
    orientation = im.getexif().get(ORIENTATION, 1)
    shown_w, shown_h = (im.height, im.width) if orientation in ROTATED else im.size
    target_w = min(width or shown_w, shown_w)  # never upscale
    target_h = max(1, round(shown_h * target_w / shown_w))
    if im.format == "JPEG" and target_w < shown_w:
        # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT (still at least the
        # target size): most of a 12 MP photo's pixels are never decoded. The key to speed.
        stored = (target_h, target_w) if orientation in ROTATED else (target_w, target_h)
        im.draft(im.mode if im.mode in ("RGB", "L") else None, stored)
    upright = ImageOps.exif_transpose(im)
    if upright.width != target_w:
        upright = upright.resize((target_w, target_h), Image.Resampling.LANCZOS)
    return upright


def _encode(im: Image.Image, fmt: str) -> bytes:
    im = _mode_for(im, fmt)
    icc = im.info.get("icc_profile")
    im.info = {}  # nothing of the source's metadata travels, by any format's default
    options: dict = {"quality": QUALITY[fmt]} if fmt in QUALITY else {"compress_level": 6}
    if fmt == "webp":
        options["method"] = 2  # the default (4): 2.5x the time for 7% fewer bytes
    if fmt == "avif":
        options["speed"] = 8  # the encoder's default (6) takes seconds for a large image
    if icc:
        options["icc_profile"] = icc  # colours, not personal data: kept for wide-gamut photos
    out = io.BytesIO()
    im.save(out, PIL_FORMAT[fmt], exif=b"", **options)
    return out.getvalue()


def _mode_for(im: Image.Image, fmt: str) -> Image.Image:
    """A mode the format can store; JPEG has no alpha, so transparency becomes white."""
    alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    if fmt == "jpeg":
        if alpha:
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            flat.info = im.info
            return flat
        return im if im.mode in ("RGB", "L") else _convert(im, "RGB")
    if im.mode in ("RGB", "RGBA", "L") or (fmt == "png" and im.mode in ("LA", "P", "1")):
        return im
    return _convert(im, "RGBA" if alpha else "RGB")


def _convert(im: Image.Image, mode: str) -> Image.Image:
    converted = im.convert(mode)
    converted.info = im.info
    return converted


def mime_of(fmt: str) -> str:
    return MIME[fmt]
