"""Which resized image a request asks for: `?w=640`, `?format=webp`, or both.

This parser faces the outside (any visitor's query string), so it accepts only a small,
fixed vocabulary: a width from `WIDTHS` (a bounded set, so nobody can fill the cache with
a variant per pixel) and a format from `FORMATS`, or `auto` (WebP when the request's
Accept lists it). Anything else in `w` or `format` is a `VariantError` naming what is
allowed; a blank value names nothing; other query parameters are not ours and are ignored.
"""

from dataclasses import dataclass

from fazt.errors import FaztError

WIDTHS = (160, 320, 640, 960, 1280, 1920, 2560)
FORMATS = ("jpeg", "png", "webp", "avif")
AUTO = "auto"  # WebP when the browser's Accept lists it, else the source's own format
ALIASES = {"jpg": "jpeg"}
_WIDTH_TEXT = {str(w): w for w in WIDTHS}
# The raster types fazt resizes; any other file (HTML, SVG, video) ignores `w`/`format`.
SOURCE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif"})
SOURCE_FORMAT = {"image/png": "png", "image/webp": "webp", "image/avif": "avif"}


class VariantError(FaztError):
    """A refused image variant: a bad query, or a source fazt will not decode."""


@dataclass(frozen=True)
class VariantSpec:
    width: int | None  # None: the source's own width
    format: str | None  # None: the source's own format (GIF and JPEG become JPEG or PNG)

    def target_format(self, source_mime: str) -> str:
        if self.format is not None:
            return self.format
        return SOURCE_FORMAT.get(source_mime, "jpeg")

    def resolved(self, accept: str | None) -> "VariantSpec":
        """`format=auto` made concrete for this request's Accept header."""
        if self.format != AUTO:
            return self
        return VariantSpec(self.width, "webp" if accepts_webp(accept) else None)

    def key(self, source_mime: str) -> str:
        """The variant's name beside its source blob: `image:w640.webp`."""
        width = f"w{self.width}" if self.width else "full"
        return f"image:{width}.{self.target_format(source_mime)}"


def asks_variant(query_string: str) -> bool:
    """Cheap first look (the hot path): may this query name a variant? (`%77=640` is
    `w=640` once decoded, so any escape means maybe.)"""
    return "w=" in query_string or "format=" in query_string or "%" in query_string


def accepts_webp(accept: str | None) -> bool:
    """Whether an Accept header lists image/webp (with a weight above 0)."""
    for item in (accept or "").lower().split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media == "image/webp":
            return all(_weight(p) != 0 for p in params if p.startswith("q="))
    return False


def _weight(param: str) -> float:
    try:
        return float(param[2:])
    except ValueError:
        return 0.0


def parse(query: dict[str, str], formats: tuple[str, ...] = FORMATS) -> VariantSpec | None:
    """The variant `query` asks for; None when it names none; VariantError when it is bad."""
    # A blank value (`?w=`, or `?w` alone) names nothing, as if absent: the hot path's
    # cheap look (asks_variant) cannot tell `?w` from `?view`, and both answers must agree.
    raw_width, raw_format = query.get("w") or None, query.get("format") or None
    if raw_width is None and raw_format is None:
        return None
    return VariantSpec(_width(raw_width), _format(raw_format, formats))


def _width(raw: str | None) -> int | None:
    if raw is None:
        return None
    # Exact spellings only: int() would take " 640", "0640" and other scripts' digits, and
    # each spelling would be one more URL (and CDN entry) for the same bytes.
    if raw in _WIDTH_TEXT:
        return _WIDTH_TEXT[raw]
    allowed = ", ".join(str(w) for w in WIDTHS)
    raise VariantError("BAD_IMAGE_WIDTH", f"w must be one of {allowed}")


def _format(raw: str | None, formats: tuple[str, ...]) -> str | None:
    if raw is None:
        return None
    name = ALIASES.get(raw.lower(), raw.lower()) if raw.isascii() else raw
    if name in formats or name == AUTO:
        return name
    raise VariantError("BAD_IMAGE_FORMAT", f"format must be one of {', '.join(formats)} or auto")
