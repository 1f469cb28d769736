"""Charts as inline SVG built on the server: no script, no chart library, no CDN.

Each chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>`` (what a screen reader
announces), presentation attributes only (the pages' Content-Security-Policy forbids inline
styles), and every label escaped. The pages also show the same numbers as a table, so
nothing is only in the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from markupsafe import Markup, escape

BAR = "#1d4f91"  # 8.6:1 on white
SECOND = "#b35900"  # 4.6:1 on white, distinct from BAR for colour-blind readers too
INK = "#1a1a1a"
GRID = "#8a8a8a"
_ids = count(1)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def hbars(title: str, rows: Sequence[tuple[str, float]], *, width: int = 520) -> Markup:
    """Horizontal bars, one per (label, value): counts by status, top root causes."""
    n = next(_ids)
    label_w, row_h, pad = 170, 26, 6
    height = max(1, len(rows)) * row_h + pad * 2
    top = max((v for _, v in rows), default=0) or 1
    span = width - label_w - 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-labelledby="c{n}t c{n}d"><title id="c{n}t">{escape(title)}</title>'
             f'<desc id="c{n}d">{escape(_describe(rows))}</desc>']
    for i, (label, value) in enumerate(rows):
        y = pad + i * row_h
        w = max(0.0, value) / top * span
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" fill="{INK}" '
            f'font-size="13">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
            f'fill="{BAR}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" fill="{INK}" font-size="13">'
            f'{escape(_fmt(value))}</text>')
    if not rows:
        parts.append(f'<text x="8" y="20" fill="{INK}" font-size="13">No data yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _describe(rows: Sequence[tuple[str, float]]) -> str:
    return "; ".join(f"{label}: {_fmt(value)}" for label, value in rows) or "No data yet"


def trend(title: str, days: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]],
          *, width: int = 720, height: int = 220, unit: str = "day") -> Markup:
    """Lines over days (or weeks: ``unit``), one per (name, colour, values)."""
    n = next(_ids)
    left, right, top_pad, bottom = 44, 12, 12, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    peak = max((v for _, _, values in series for v in values), default=0) or 1
    step = plot_w / max(1, len(days) - 1)

    def xy(i: int, v: int) -> str:
        return f"{left + i * step:.1f},{top_pad + plot_h - v / peak * plot_h:.1f}"

    desc = "; ".join(f"{name}: {sum(values)} in {len(days)} {unit}s, at most "
                     f"{max(values or [0])} a {unit}" for name, _, values in series)
    every = 7 if unit == "day" else 2
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-labelledby="c{n}t c{n}d"><title id="c{n}t">{escape(title)}</title>'
             f'<desc id="c{n}d">{escape(desc)}</desc>',
             f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" '
             f'y2="{top_pad + plot_h}" stroke="{GRID}"/>',
             f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" '
             f'stroke="{GRID}"/>',
             f'<text x="{left - 6}" y="{top_pad + 10}" text-anchor="end" fill="{INK}" '
             f'font-size="12">{peak}</text>',
             f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end" fill="{INK}" '
             f'font-size="12">0</text>']
    last = len(days) - 1
    for i, day in enumerate(days):
        if (i % every == 0 and last - i >= every // 2 + 1) or i == last:
            parts.append(f'<text x="{left + i * step:.1f}" y="{height - bottom + 16}" '
                         f'text-anchor="middle" fill="{INK}" font-size="11">'
                         f'{escape(day[5:])}</text>')
    for k, (name, colour, values) in enumerate(series):
        points = " ".join(xy(i, v) for i, v in enumerate(values))
        dash = ' stroke-dasharray="6 3"' if k else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{escape(colour)}" '
                     f'stroke-width="2.5"{dash}/>')
        lx = left + k * 150
        parts.append(f'<line x1="{lx}" y1="{height - 8}" x2="{lx + 24}" y2="{height - 8}" '
                     f'stroke="{escape(colour)}" stroke-width="2.5"{dash}/>'
                     f'<text x="{lx + 30}" y="{height - 4}" fill="{INK}" font-size="12">'
                     f'{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
