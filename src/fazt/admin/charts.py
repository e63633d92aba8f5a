"""Charts as inline SVG, drawn on the server: no JavaScript library, nothing to load."""

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 600, 180, 28
COLOURS = ("#2563eb", "#ea580c", "#16a34a")


def line_chart(rows: list[dict], x: str, fields: list[str], title: str) -> Markup:
    """One polyline per field over rows[x]; the numbers are also in the chart's table."""
    if not rows:
        return Markup('<p class="muted">No data yet.</p>')
    top = max(max(int(r.get(f) or 0) for r in rows) for f in fields) or 1
    n = len(rows)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def point(i: int, value: int) -> str:
        px = PAD + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)
        py = PAD + inner_h - inner_h * value / top
        return f"{px:.1f},{py:.1f}"

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'class="axis"/>',
        f'<text x="{PAD}" y="{PAD - 8}" class="label">{top}</text>',
        f'<text x="{PAD}" y="{HEIGHT - 8}" class="label">{_label(rows[0][x])}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" class="label" text-anchor="end">'
        f"{_label(rows[-1][x])}</text>",
    ]
    for colour, name in zip(COLOURS, fields, strict=False):
        points = " ".join(point(i, int(r.get(name) or 0)) for i, r in enumerate(rows))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}" '
            f'data-series="{escape(name)}"/>'
        )
    parts.append("</svg>")
    legend = " ".join(
        f'<span class="key" style="--c:{c}">{escape(name)}</span>'
        for c, name in zip(COLOURS, fields, strict=False)
    )
    return Markup("".join(parts) + f'<p class="legend">{legend}</p>')


def _label(value: object) -> Markup:
    """'2026-11-25T02:00:00Z' -> '11-25 02:00'; dates and other values as they are."""
    text = str(value)
    if len(text) == 20 and text[10] == "T":
        text = f"{text[5:10]} {text[11:16]}"
    return escape(text)


def bar_rows(rows: list[dict], label: str, value: str) -> list[dict]:
    """Rows with a `pct` of the largest value, for CSS bars in a table."""
    top = max((int(r.get(value) or 0) for r in rows), default=0) or 1
    return [
        {
            "label": r.get(label),
            "value": int(r.get(value) or 0),
            "pct": 100 * int(r.get(value) or 0) // top,
        }
        for r in rows
    ]
