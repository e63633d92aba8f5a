"""Properties of the image variant query parser (`?w=640&format=webp`), which any visitor
feeds: it accepts exactly the listed widths and formats and refuses the rest cleanly."""

from urllib.parse import parse_qsl, quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fazt.hosting.image_query import (
    FORMATS,
    WIDTHS,
    VariantError,
    VariantSpec,
    asks_variant,
    parse,
)

WIDTH_TEXT = st.one_of(
    st.sampled_from([str(w) for w in WIDTHS]),
    st.integers(-(10**30), 10**30).map(str),
    st.text(max_size=12),
)
FORMAT_TEXT = st.one_of(
    st.sampled_from([*FORMATS, "jpg", "JPEG", "WebP", "auto", "AUTO"]), st.text(max_size=10)
)


def expected_width(raw: str | None) -> int | None:
    """What the parser must make of `w`, by another route: exact ASCII spelling of a width."""
    if not raw:
        return None
    return next((w for w in WIDTHS if raw == str(w)), -1)


def expected_format(raw: str | None) -> str | None:
    if not raw:
        return None
    name = {"jpg": "jpeg"}.get(raw.lower(), raw.lower()) if raw.isascii() else raw
    return name if name in (*FORMATS, "auto") else ""


@given(
    w=st.none() | WIDTH_TEXT,
    fmt=st.none() | FORMAT_TEXT,
    other=st.dictionaries(st.sampled_from(["v", "q", "width", "W"]), st.text(max_size=5)),
)
@example(w="٦٤٠", fmt=None, other={})  # Arabic-Indic digits: int() would take them
@example(w=" 640", fmt=None, other={})
@example(w="0640", fmt=None, other={})
@example(w="640", fmt="jpeg\x00", other={})
def test_parse_accepts_exactly_the_listed_values(
    w: str | None, fmt: str | None, other: dict[str, str]
) -> None:
    query = dict(other)
    if w is not None:
        query["w"] = w
    if fmt is not None:
        query["format"] = fmt
    width, name = expected_width(w), expected_format(fmt)
    try:
        spec = parse(query)
    except VariantError as exc:
        assert exc.code in ("BAD_IMAGE_WIDTH", "BAD_IMAGE_FORMAT")
        assert width == -1 or name == ""
        return
    if not w and not fmt:
        assert spec is None
    else:
        assert spec == VariantSpec(width, name)
        assert spec.key("image/jpeg").startswith("image:")


@given(st.text(max_size=40))
@example("%77=640")
@example("format")
@example("w&v=2")
@example("form%61t=webp&v=1")
def test_a_query_string_that_parses_to_a_variant_is_seen_on_the_hot_path(raw: str) -> None:
    # asks_variant is the hot path's cheap look; it must never miss a real variant query.
    query_string = "&".join(f"{quote(k)}={quote(v)}" for k, v in [("x", raw), ("w", "640")])
    assert asks_variant(query_string)
    query = dict(parse_qsl(raw, keep_blank_values=True))
    try:
        found = parse(query)
    except VariantError:
        found = "refused"
    if found is not None:
        assert asks_variant(raw)


def test_formats_can_be_narrowed_to_what_pillow_encodes() -> None:
    with pytest.raises(VariantError) as refused:
        parse({"format": "avif"}, ("jpeg", "png", "webp"))
    assert refused.value.message == "format must be one of jpeg, png, webp or auto"


@pytest.mark.parametrize(
    ("accept", "webp"),
    [
        ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", True),  # Chromium
        ("image/webp,*/*", True),  # Firefox
        ("IMAGE/WEBP ; q=0.5", True),
        ("image/webp;q=0, image/jpeg", False),
        ("image/webp;q=0.000", False),
        ("image/webp;q=bogus", False),
        ("image/*,*/*;q=0.8", False),  # an old Safari: */* does not say it decodes WebP
        ("", False),
        (None, False),
    ],
)
def test_auto_picks_webp_only_when_accept_lists_it(accept: str | None, webp: bool) -> None:
    spec = parse({"w": "640", "format": "auto"}).resolved(accept)
    assert spec == VariantSpec(640, "webp" if webp else None)
    assert spec.target_format("image/png") == ("webp" if webp else "png")
