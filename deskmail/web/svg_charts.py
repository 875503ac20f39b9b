"""Small charts drawn on the server as SVG: vertical bars (a series over days), horizontal
bars (counts by label) and stacked shares (met / missed / running).

No chart library and no script (docs/decisions/0148). Each chart is a standalone SVG document
put into the page as `<img src="data:image/svg+xml;base64,...">`: an SVG shown as an image
never runs script or loads anything, whatever its labels (category names come from agents and
mail), and the page's markup holds no `<svg>` at all. Every text is escaped inside the SVG; the
image's `alt` text lists the values for screen readers. Colours are SVG presentation
attributes (no `style`, which the page's CSP forbids).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH = 640
BAR_HEIGHT = 22
LABEL_WIDTH = 170
MAX_ALT_CHARS = 1000
BAR = 'fill="#2f6fd0"'
INK = 'fill="#3d444d"'
PART_COLOURS = {"good": "#2da44e", "bad": "#cf222e", "neutral": "#afb8c1", "empty": "#eaeef2"}


@dataclass(frozen=True)
class Bar:
    """One value of a chart."""

    label: str
    value: float
    note: str = ""  # shown in the bar's tooltip after the value


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _nice_max(value: float) -> float:
    """A round upper end for an axis (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10  # pragma: no cover - the loop always returns


def _svg(
    title: str, size: tuple[int, int], body: list[Markup], css: str, values: Sequence[str]
) -> Markup:
    width, height = size
    document = Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}"'
        ' font-family="system-ui, sans-serif" font-size="11">'
        "<title>{title}</title>{body}</svg>"
    ).format(title=title, w=width, h=height, body=Markup("").join(body))
    encoded = base64.b64encode(str(document).encode("utf-8")).decode("ascii")
    alt = f"{title}: {'; '.join(values) or 'no data'}"
    if len(alt) > MAX_ALT_CHARS:
        alt = alt[: MAX_ALT_CHARS - 1] + "…"
    return Markup(
        '<img class="chart {css}" src="data:image/svg+xml;base64,{data}" width="{w}"'
        ' height="{h}" alt="{alt}">'
    ).format(css=css, data=encoded, w=width, h=height, alt=alt)


def svg_of(chart: Markup) -> str:
    """The SVG document inside a chart's `<img>` (for tests and debugging)."""
    data = str(chart).split("base64,", 1)[1].split('"', 1)[0]
    return base64.b64decode(data).decode("utf-8")


def _tip(bar: Bar) -> str:
    return f"{bar.label}: {_fmt(bar.value)}{(' ' + bar.note) if bar.note else ''}"


def column_chart(title: str, bars: Sequence[Bar], *, height: int = 180) -> Markup:
    """Vertical bars left to right (a series over days), labels under every few bars."""
    top, bottom, left = 14, 22, 34
    inner_w, inner_h = WIDTH - left - 6, height - top - bottom
    peak = _nice_max(max((b.value for b in bars), default=0))
    base = top + inner_h
    body = [
        Markup('<line stroke="#8c959f" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/>').format(
            l=left, b=base, r=WIDTH - 6
        ),
        Markup('<text fill="#3d444d" x="{x}" y="{y}" text-anchor="end">{v}</text>').format(
            x=left - 4, y=top + 4, v=_fmt(peak)
        ),
        Markup('<text fill="#3d444d" x="{x}" y="{y}" text-anchor="end">0</text>').format(
            x=left - 4, y=base
        ),
    ]
    if bars:
        slot = inner_w / len(bars)
        every = max(1, round(len(bars) / 8))
        for index, bar in enumerate(bars):
            h = inner_h * (bar.value / peak)
            x = left + index * slot
            body.append(
                Markup(
                    '<rect class="bar" fill="#2f6fd0" x="{x}" y="{y}" width="{w}" height="{h}">'
                    "<title>{tip}</title></rect>"
                ).format(
                    x=f"{x + slot * 0.1:.1f}",
                    y=f"{base - h:.1f}",
                    w=f"{max(slot * 0.8, 1):.1f}",
                    h=f"{h:.1f}",
                    tip=_tip(bar),
                )
            )
            if index % every == 0:
                body.append(
                    Markup(
                        '<text fill="#3d444d" x="{x}" y="{y}" text-anchor="middle">{label}</text>'
                    ).format(x=f"{x + slot / 2:.1f}", y=height - 6, label=bar.label[-5:])
                )
    return _svg(title, (WIDTH, height), body, "columns", [_tip(b) for b in bars])


def bar_chart(title: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars, one per label, with the value at the end."""
    height = max(len(bars), 1) * (BAR_HEIGHT + 6) + 8
    peak = _nice_max(max((b.value for b in bars), default=0))
    room = WIDTH - LABEL_WIDTH - 60
    body: list[Markup] = []
    for index, bar in enumerate(bars):
        y = 4 + index * (BAR_HEIGHT + 6)
        w = room * (bar.value / peak)
        body.append(
            Markup(
                '<text fill="#3d444d" x="{lx}" y="{ty}" text-anchor="end">{label}</text>'
                '<rect class="bar" fill="#2f6fd0" x="{bx}" y="{y}" width="{w}" height="{h}">'
                "<title>{tip}</title></rect>"
                '<text fill="#3d444d" x="{vx}" y="{ty}">{value}</text>'
            ).format(
                lx=LABEL_WIDTH - 8,
                ty=f"{y + BAR_HEIGHT * 0.7:.1f}",
                label=bar.label[:28],
                bx=LABEL_WIDTH,
                y=y,
                w=f"{max(w, 1):.1f}",
                h=BAR_HEIGHT,
                tip=_tip(bar),
                vx=f"{LABEL_WIDTH + w + 6:.1f}",
                value=_fmt(bar.value),
            )
        )
    if not bars:
        body.append(Markup('<text fill="#3d444d" x="8" y="15">No data</text>'))
    return _svg(title, (WIDTH, height), body, "bars", [_tip(b) for b in bars])


def share_chart(title: str, parts: Sequence[tuple[str, int, str]]) -> Markup:
    """One stacked bar of (label, count, kind) parts and a legend; kinds: PART_COLOURS."""
    total = sum(count for _label, count, _css in parts)
    body: list[Markup] = []
    x = 0.0
    for label, count, css in parts:
        if total == 0 or count == 0:
            continue
        w = WIDTH * count / total
        body.append(
            Markup(
                '<rect fill="{colour}" x="{x}" y="0" width="{w}" height="26">'
                "<title>{tip}</title></rect>"
            ).format(
                colour=PART_COLOURS[css],
                x=f"{x:.1f}",
                w=f"{w:.1f}",
                tip=f"{label}: {count} ({count / total:.0%})",
            )
        )
        x += w
    if total == 0:
        body.append(Markup('<rect fill="#eaeef2" x="0" y="0" width="640" height="26"/>'))
    for index, (label, count, css) in enumerate(parts):
        share = f" {count / total:.0%}" if total else ""
        body.append(
            Markup(
                '<rect fill="{colour}" x="{x}" y="38" width="12" height="12"/>'
                '<text fill="#3d444d" x="{tx}" y="49">{text}</text>'
            ).format(
                colour=PART_COLOURS[css],
                x=index * 210,
                tx=index * 210 + 16,
                text=f"{label}: {count}{share}",
            )
        )
    values = [f"{label} {count}" for label, count, _css in parts]
    return _svg(title, (WIDTH, 58), body, "shares", values)
