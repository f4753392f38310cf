"""Small server-side SVG charts: vertical bars, stacked bars, horizontal bars.

No script and no third-party library: the page gets plain SVG that the CSP allows (colours are
presentation attributes, type comes from charts.css). Every text is escaped. Each chart is an
`<svg role="img">` named by its `<title>` and `<desc>`; the page puts the same numbers in a table
next to it. Series are told apart by a text legend and a pattern, never by colour alone.

Geometry is in viewBox units; the SVG scales to the width of its container, so a chart drawn
320 units wide is about 1:1 on a 390 px phone (11 px type).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 320
FONT = 11  # viewBox units; charts.css sets the same size so text measures match
CHAR_WIDTH = 0.56 * FONT  # average width of a character, to wrap and place labels
INK = "#161616"
GRID = "#929292"  # 3:1 against white, so axis lines count as visible
BAR = "#000091"  # French public-service blue: 15:1 against white
NNBSP = "\u202f"  # narrow no-break space, the French thousands separator


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: its legend text, values (one per category), colour and pattern
    ('solid', 'hatch' or 'dots')."""

    label: str
    values: Sequence[int]
    colour: str
    pattern: str = "solid"


def format_number(value: float) -> str:
    """A number as French readers write it: '12 345' (narrow no-break space), '2,5'."""
    if isinstance(value, float) and not value.is_integer():
        whole, _, decimals = f"{value:,.1f}".partition(".")
        return whole.replace(",", NNBSP) + "," + decimals
    return f"{int(value):,}".replace(",", NNBSP)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_ticks(maximum: int, count: int = 4) -> list[int]:
    """Round axis graduations from 0 covering `maximum` (0, 1 for an empty chart)."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    top = step * math.ceil(maximum / step)
    return list(range(0, top + 1, step))


def _every(count: int, room: float, label_width: float) -> int:
    """Show one category label in `n` so labels never overlap."""
    if count == 0:
        return 1
    return max(1, math.ceil(count * label_width / room))


def wrap(text: str, width: float, lines: int = 2) -> list[str]:
    """`text` cut at spaces into at most `lines` lines of `width` units (an ellipsis ends a cut)."""
    limit = max(4, int(width / CHAR_WIDTH))
    words = text.split()
    out: list[str] = []
    current = ""
    i = 0
    while i < len(words) and len(out) < lines:
        candidate = f"{current} {words[i]}" if current else words[i]
        if len(candidate) <= limit:
            current, i = candidate, i + 1
        elif current:
            out.append(current)
            current = ""
        else:  # one word longer than a line
            out.append(words[i][: limit - 1] + "…")
            i += 1
    if current and len(out) < lines:
        out.append(current)
        current = ""
    if out and (i < len(words) or current):
        out[-1] = out[-1][: limit - 1].rstrip() + "…"
    return out or [""]


def _open(chart_id: str, title: str, desc: str, height: float) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" role="img" viewBox="0 0 {WIDTH} {_num(height)}"'
        f' aria-labelledby="{_e(chart_id)}-t {_e(chart_id)}-d" focusable="false" id="{_e(chart_id)}">',
        f'<title id="{_e(chart_id)}-t">{_e(title)}</title>',
        f'<desc id="{_e(chart_id)}-d">{_e(desc)}</desc>',
    ]


def _y_axis(ticks: list[int], left: float, right: float, top: float, bottom: float) -> list[str]:
    parts = []
    scale = (bottom - top) / ticks[-1]
    for tick in ticks:
        y = bottom - tick * scale
        parts.append(f'<line x1="{_num(left)}" x2="{_num(right)}" y1="{_num(y)}" y2="{_num(y)}" stroke="{GRID}"'
                     f' stroke-width="{1 if tick == 0 else 0.5}"/>')
        parts.append(f'<text class="tick" x="{_num(left - 4)}" y="{_num(y + FONT * 0.35)}" text-anchor="end"'
                     f' fill="{INK}">{_e(format_number(tick))}</text>')
    return parts


def _patterns(chart_id: str, series: Sequence[Series]) -> list[str]:
    parts = ["<defs>"]
    for i, s in enumerate(series):
        pid = f"{_e(chart_id)}-p{i}"
        if s.pattern == "hatch":
            parts.append(f'<pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse"'
                         f' patternTransform="rotate(45)"><rect width="6" height="6" fill="{_e(s.colour)}"/>'
                         f'<rect width="2" height="6" fill="#ffffff"/></pattern>')
        elif s.pattern == "dots":
            parts.append(f'<pattern id="{pid}" width="5" height="5" patternUnits="userSpaceOnUse">'
                         f'<rect width="5" height="5" fill="{_e(s.colour)}"/>'
                         f'<circle cx="2.5" cy="2.5" r="1.1" fill="#ffffff"/></pattern>')
    parts.append("</defs>")
    return parts


def _fill(chart_id: str, index: int, s: Series) -> str:
    return _e(s.colour) if s.pattern not in ("hatch", "dots") else f"url(#{_e(chart_id)}-p{index})"


def _x_labels(labels: Sequence[str], left: float, slot: float, y: float) -> list[str]:
    longest = max((len(label) for label in labels), default=1)
    step = _every(len(labels), len(labels) * slot, longest * CHAR_WIDTH + 6)
    return [f'<text class="tick" x="{_num(left + (i + 0.5) * slot)}" y="{_num(y)}" text-anchor="middle"'
            f' fill="{INK}">{_e(label)}</text>'
            for i, label in enumerate(labels) if i % step == 0]


def bar_chart(labels: Sequence[str], values: Sequence[int], *, chart_id: str, title: str, desc: str,
              tooltips: Sequence[str] | None = None, height: int = 190) -> Markup:
    """Vertical bars, one per category (e.g. one per day); values printed on the bars when they fit."""
    return stacked_bar_chart(labels, [Series("", values, BAR)], chart_id=chart_id, title=title, desc=desc,
                             tooltips=tooltips, height=height, legend=False)


def stacked_bar_chart(labels: Sequence[str], series: Sequence[Series], *, chart_id: str, title: str, desc: str,
                      tooltips: Sequence[str] | None = None, height: int = 220, legend: bool = True) -> Markup:
    """Vertical bars stacked by series, the first series at the bottom, in the legend's order; each
    bar's tooltip (`<title>`) gives its numbers ("23 h : Valide 2 ; Refusé 1…" by default)."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    ticks = nice_ticks(max(totals, default=0))
    left, right = 8 + CHAR_WIDTH * len(format_number(ticks[-1])), WIDTH - 6
    top = FONT + 6 + (FONT + 10 if legend else 0)
    bottom = height - FONT - 10
    slot = (right - left) / max(1, len(labels))
    gap = min(4.0, slot * 0.2)
    scale = (bottom - top) / ticks[-1]
    if tooltips is None:
        tooltips = [f"{label} : {format_number(total)}" if not legend else
                    f"{label} : " + " ; ".join(f"{s.label} {format_number(s.values[i])}" for s in series)
                    for i, (label, total) in enumerate(zip(labels, totals, strict=True))]
    parts = _open(chart_id, title, desc, height)
    parts += _patterns(chart_id, series)
    if legend:
        x = left
        for i, s in enumerate(series):
            parts.append(f'<rect x="{_num(x)}" y="4" width="14" height="{FONT}" fill="{_fill(chart_id, i, s)}"'
                         f' stroke="{INK}" stroke-width="0.5"/>')
            parts.append(f'<text class="legend" x="{_num(x + 18)}" y="{FONT + 3}" fill="{INK}">{_e(s.label)}</text>')
            x += 18 + len(s.label) * CHAR_WIDTH + 14
    parts += _y_axis(ticks, left, right, top, bottom)
    show_values = slot >= CHAR_WIDTH * (len(format_number(max(totals, default=0))) + 1)
    for i, total in enumerate(totals):
        x = left + i * slot + gap / 2
        y = bottom
        group = ['<g class="bar">', f"<title>{_e(tooltips[i])}</title>"]
        for j, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            h = value * scale
            y -= h
            group.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(slot - gap)}" height="{_num(h)}"'
                         f' fill="{_fill(chart_id, j, s)}" stroke="#ffffff" stroke-width="0.6"'
                         f' data-series="{j}" data-value="{value}"/>')
        if show_values and total > 0:
            group.append(f'<text class="value" x="{_num(x + (slot - gap) / 2)}" y="{_num(y - 3)}"'
                         f' text-anchor="middle" fill="{INK}">{_e(format_number(total))}</text>')
        group.append("</g>")
        parts.append("".join(group))
    parts += _x_labels(labels, left, slot, bottom + FONT + 5)
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 (every text and attribute above is escaped)


def horizontal_bar_chart(labels: Sequence[str], values: Sequence[int], *, chart_id: str, title: str,
                         desc: str) -> Markup:
    """One horizontal bar per category, its label (wrapped on two lines) above it and its value at
    its end: long French category names stay readable on a phone."""
    row_label = FONT + 3
    bar_h = 12
    left, right = 2, WIDTH - 8 - CHAR_WIDTH * (len(format_number(max(values, default=0))) + 1)
    wrapped = [wrap(label, WIDTH - 4) for label in labels]
    height = 6 + sum(len(lines) * row_label + bar_h + 10 for lines in wrapped)
    top = max(values, default=0) or 1
    parts = _open(chart_id, title, desc, height)
    y = 4.0
    for lines, label, value in zip(wrapped, labels, values, strict=True):
        group = ['<g class="bar">', f"<title>{_e(label)} : {_e(format_number(value))}</title>"]
        for line in lines:
            y += row_label
            group.append(f'<text class="label" x="{_num(left)}" y="{_num(y - 3)}" fill="{INK}">{_e(line)}</text>')
        w = max(1.0, (right - left) * value / top) if value else 0
        group.append(f'<rect x="{_num(left)}" y="{_num(y)}" width="{_num(w)}" height="{bar_h}" fill="{BAR}"'
                     f' data-value="{value}"/>')
        group.append(f'<text class="value" x="{_num(left + w + 4)}" y="{_num(y + bar_h - 2)}" fill="{INK}">'
                     f"{_e(format_number(value))}</text>")
        group.append("</g>")
        parts.append("".join(group))
        y += bar_h + 10
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 (every text and attribute above is escaped)
