"""Server-side SVG charts for the console: pure functions from plain data to an ``<svg>``.

Drawn on the server so that the page needs no script, and with presentation attributes and
class names only: the console's Content-Security-Policy forbids inline styles. Every chart is an
image with a title (``role="img"``, ``aria-labelledby``); the page prints the same data as a
table beside it, the accessible equivalent of the picture. Colours meet WCAG AA against white:
4.5:1 for text, and the palette 4.5:1 as well, above the 3:1 graphics need, so a series colour
may also carry text.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

PALETTE: tuple[str, ...] = (
    "#1d4ed8",
    "#b45309",
    "#047857",
    "#be123c",
    "#6d28d9",
    "#0e7490",
    "#4d7c0f",
    "#a21caf",
)
"""Series colours, in order; a ninth series reuses the first (dashed, when drawn as a line)."""
TEXT = "#1f2937"
MUTED = "#4b5563"
"""Axis lines, tick labels and the "no data" text."""
GRID = "#e5e7eb"
"""Grid lines: decoration only (every value is also printed or tabled), hence no contrast need."""

WIDTH = 640
FONT = "system-ui, sans-serif"
LABEL_CHARS = 32
"""What fits the bar chart's label column (224 px) at 12 px, wide letters and all; the legend's
columns hold a little more. Class names are the charts' own (``bar-label``, not ``label``): the
page's stylesheet styles its own classes, and an SVG text must not pick them up."""
LEGEND_CHARS = 40

Formatter = Callable[[float], str]


def number(value: float) -> str:
    """The default value format: whole numbers grouped, small fractions to three digits."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _esc(text: str) -> Markup:
    """Escaped, without the characters XML cannot hold at all (an SVG with one is no image)."""
    return escape(_NOT_XML.sub("", text))


def _ident(chart_id: str | None, title: str) -> str:
    """An id unique to the chart on its page: the caller's, made safe, else one from the title."""
    if chart_id is None:
        chart_id = "chart-" + hashlib.sha256(title.encode()).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
    return safe if safe[:1].isalpha() else f"c-{safe}"


def _svg(kind: str, ident: str, title: str, height: float, body: Sequence[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_n(height)}" '
        f'role="img" aria-labelledby="{ident}-title" class="chart chart-{kind}" '
        f'font-family="{FONT}" font-size="12" fill="{TEXT}">'
        f'<title id="{ident}-title">{_esc(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 (every text is escaped)


def _n(value: float) -> str:
    """A coordinate, short and locale-free."""
    return f"{value:.1f}".removesuffix(".0")


def _text(x: float, y: float, content: str, **attributes: str) -> str:
    extra = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{_esc(v)}"' for name, v in attributes.items()
    )
    return f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{_esc(content)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, cls: str, tip: str = "") -> str:
    """A filled rectangle; with a tooltip, also a white edge that parts it from its
    neighbours in a stack."""
    tooltip = f"<title>{_esc(tip)}</title>" if tip else ""
    edge = ' stroke="#ffffff" stroke-width="1"' if tip else ""
    return (
        f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0.0))}" height="{_n(h)}" '
        f'fill="{fill}"{edge} class="{cls}">{tooltip}</rect>'
    )


def _no_data(kind: str, ident: str, title: str, empty_text: str) -> Markup:
    body = [
        f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="79" fill="none" stroke="{GRID}" '
        'class="frame"/>',
        _text(WIDTH / 2, 44, empty_text, text_anchor="middle", fill=MUTED, class_="no-data"),
    ]
    return _svg(kind, ident, title, 80, body)


def _short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    chart_id: str | None = None,
    fmt: Formatter = number,
    empty_text: str = "No data",
) -> Markup:
    """Horizontal bars, one per (label, value), in the order given; values print at the bars'
    ends. Long labels are shortened, whole in each bar's tooltip."""
    ident = _ident(chart_id, title)
    top = max((value for _, value in items), default=0.0)
    if top <= 0:
        return _no_data("bars", ident, title, empty_text)
    label_w, value_w, row, pad = 230.0, 70.0, 22.0, 8.0
    span = WIDTH - label_w - value_w
    body = []
    for i, (label, value) in enumerate(items):
        y = pad + i * row
        body.append(
            _text(label_w - 6, y + 15, _short(label), text_anchor="end", class_="bar-label")
            + _rect(
                label_w,
                y + 4,
                span * max(value, 0.0) / top,
                14,
                _colour(0),
                "bar",
                f"{label}: {fmt(value)}",
            )
            + _text(label_w + span * max(value, 0.0) / top + 4, y + 15, fmt(value), class_="value")
        )
    return _svg("bars", ident, title, 2 * pad + len(items) * row, body)


def _nice_step(top: float, ticks: int = 4) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k step whose ``ticks`` steps reach ``top``."""
    raw = max(top / ticks, sys.float_info.min)  # a subnormal top would divide to 0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _legend(names: Sequence[str], y: float, lines: bool) -> tuple[list[str], float]:
    """Swatches and names in two columns from ``y``; returns them and the height used. A name
    too long for its column is shortened, whole in its tooltip."""
    body, column, row = [], WIDTH / 2, 18.0
    for i, name in enumerate(names):
        x, top = 12 + (i % 2) * column, y + (i // 2) * row
        if lines:
            dash = ' stroke-dasharray="6 3"' if i >= len(PALETTE) else ""
            body.append(
                f'<line x1="{_n(x)}" y1="{_n(top + 6)}" x2="{_n(x + 14)}" y2="{_n(top + 6)}" '
                f'stroke="{_colour(i)}" stroke-width="3"{dash} class="swatch"/>'
            )
        else:
            body.append(_rect(x, top, 12, 12, _colour(i), "swatch"))
        shown = _short(name, LEGEND_CHARS)
        tip = f"<title>{_esc(name)}</title>" if shown != name else ""
        body.append(
            f'<text x="{_n(x + 20)}" y="{_n(top + 10)}" class="legend">{_esc(shown)}{tip}</text>'
        )
    return body, math.ceil(len(names) / 2) * row


def time_series(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    stacked: bool = False,
    chart_id: str | None = None,
    fmt: Formatter = number,
    empty_text: str = "No data",
) -> Markup:
    """Buckets along x (``x_labels``, already formatted: at most six are printed), one
    (name, values) per series: stacked columns, or lines broken where a value is None."""
    ident = _ident(chart_id, title)
    n = len(x_labels)
    columns = [[v or 0.0 for v in values] for _, values in series]
    if stacked:
        top = max((sum(c[i] for c in columns if i < len(c)) for i in range(n)), default=0.0)
    else:
        top = max((v for c in columns for v in c[:n]), default=0.0)
    if n == 0 or top <= 0:
        return _no_data("series", ident, title, empty_text)
    left, right, plot_top, plot_h = 56.0, 12.0, 12.0, 180.0
    plot_w, base = WIDTH - left - right, plot_top + plot_h
    step = _nice_step(top)
    scale, slot = plot_h / (4 * step), plot_w / n
    body = []
    for t in range(5):
        y = base - t * step * scale
        body.append(
            f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(WIDTH - right)}" y2="{_n(y)}" '
            f'stroke="{GRID if t else MUTED}" class="{"grid" if t else "axis"}"/>'
            + _text(left - 6, y + 4, fmt(t * step), text_anchor="end", fill=MUTED, class_="tick")
        )
    shown = sorted({round(k * (n - 1) / 5) for k in range(6)}) if n > 6 else range(n)
    for i in shown:
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        x = left + i * slot + (0 if anchor == "start" else slot if anchor == "end" else slot / 2)
        body.append(_text(x, base + 18, x_labels[i], text_anchor=anchor, fill=MUTED, class_="tick"))
    if stacked:
        heights = [0.0] * n
        for s, (name, _) in enumerate(series):
            for i, value in enumerate(columns[s][:n]):
                if value > 0:
                    y = base - (heights[i] + value) * scale
                    body.append(
                        _rect(
                            left + i * slot + 1,
                            y,
                            max(slot - 2, 1.0),
                            value * scale,
                            _colour(s),
                            f"bar series-{s}",
                            f"{name}, {x_labels[i]}: {fmt(value)}",
                        )
                    )
                    heights[i] += value
    else:
        for s, (_, values) in enumerate(series):
            body.extend(_lines(values[:n], s, left, slot, base, scale))
    legend, legend_h = _legend([name for name, _ in series], base + 34, lines=not stacked)
    body.extend(legend)
    return _svg("series", ident, title, base + 34 + legend_h + 4, body)


def _lines(
    values: Sequence[float | None], s: int, left: float, slot: float, base: float, scale: float
) -> list[str]:
    """One polyline per run of values without a gap; a run of one is a dot."""
    dash = ' stroke-dasharray="6 3"' if s >= len(PALETTE) else ""
    runs: list[list[str]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{_n(left + (i + 0.5) * slot)},{_n(base - value * scale)}")
    drawn = []
    for run in runs:
        if len(run) == 1:
            x, y = run[0].split(",")
            drawn.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{_colour(s)}" class="dot"/>')
        elif run:
            drawn.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{_colour(s)}" '
                f'stroke-width="2"{dash} class="line series-{s}"/>'
            )
    return drawn


def share(
    title: str,
    parts: Sequence[tuple[str, float]],
    *,
    chart_id: str | None = None,
    fmt: Formatter = number,
    empty_text: str = "No data",
) -> Markup:
    """One bar split into the parts' shares (forensic vs other), with a legend of values and
    percentages."""
    ident = _ident(chart_id, title)
    total = sum(max(value, 0.0) for _, value in parts)
    if total <= 0:
        return _no_data("share", ident, title, empty_text)
    left, span, x = 12.0, WIDTH - 24.0, 12.0
    body = []
    for i, (name, value) in enumerate(parts):
        width = span * max(value, 0.0) / total
        if width > 0:
            tip = f"{name}: {fmt(value)} ({100 * value / total:.1f}%)"
            body.append(_rect(x, 12, width, 28, _colour(i), f"bar part-{i}", tip))
            x += width
    body.append(
        f'<rect x="{_n(left)}" y="12" width="{_n(span)}" height="28" fill="none" '
        f'stroke="{MUTED}" class="frame"/>'
    )
    names = [f"{name}: {fmt(value)} ({100 * value / total:.1f}%)" for name, value in parts]
    legend, legend_h = _legend(names, 52, lines=False)
    body.extend(legend)
    return _svg("share", ident, title, 52 + legend_h + 4, body)
