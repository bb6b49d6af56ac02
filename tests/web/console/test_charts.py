"""The console's SVG charts: well-formed images with a title the page's assistive technology
reads, no inline style (the Content-Security-Policy forbids it), escaped text, colours that meet
WCAG AA against white, and a "no data" picture instead of a division by zero."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from saglik.web.console.charts import (
    MUTED,
    PALETTE,
    TEXT,
    WIDTH,
    bar_chart,
    number,
    share,
    time_series,
)

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"


def luminance(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_on_white(colour: str) -> float:
    return 1.05 / (luminance(colour) + 0.05)


def test_the_contrast_formula() -> None:
    assert contrast_on_white("#000000") == pytest.approx(21.0)
    assert contrast_on_white("#ffffff") == pytest.approx(1.0)
    assert contrast_on_white("#767676") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("colour", [TEXT, MUTED])
def test_text_colours_meet_aa(colour: str) -> None:
    assert contrast_on_white(colour) >= 4.5


@pytest.mark.parametrize("colour", PALETTE)
def test_series_colours_meet_aa_for_graphics_and_text(colour: str) -> None:
    assert contrast_on_white(colour) >= 4.5  # 3:1 is what bars need; these may carry text too


def test_the_palette_has_distinct_colours() -> None:
    assert len(set(PALETTE)) == len(PALETTE) >= 6


def parsed(chart: Markup) -> ET.Element:
    assert isinstance(chart, Markup)
    root = ET.fromstring(str(chart))  # noqa: S314 (our own output, no DTD)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    viewbox = (root.get("viewBox") or "").split()
    assert viewbox[:3] == ["0", "0", str(WIDTH)]
    assert float(viewbox[3]) > 0
    for element in root.iter():
        assert "style" not in element.attrib
        assert element.tag not in (f"{SVG}style", f"{SVG}script", f"{SVG}foreignObject")
        assert not any(name.startswith("on") for name in element.attrib)
    return root


def title_of(root: ET.Element) -> str:
    title = root.find("svg:title", NS)
    assert title is not None
    assert root.get("aria-labelledby") == title.get("id")
    return title.text or ""


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def bars(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if "bar" in classes(e)]


def texts(root: ET.Element, cls: str) -> list[str]:
    return [e.text or "" for e in root.iter(f"{SVG}text") if cls in classes(e)]


def test_a_bar_per_item_in_order() -> None:
    items = [("İstanbul", 120), ("Ankara", 60), ("Iğdır", 0)]
    root = parsed(bar_chart("Ölüm ili", items, chart_id="deaths"))
    assert title_of(root) == "Ölüm ili"
    assert root.get("aria-labelledby") == "deaths-title"
    drawn = bars(root)
    assert len(drawn) == 3
    widths = [float(bar.get("width", "")) for bar in drawn]
    assert widths[0] == 2 * widths[1] > 0 == widths[2]
    assert texts(root, "bar-label") == ["İstanbul", "Ankara", "Iğdır"]
    assert texts(root, "value") == ["120", "60", "0"]
    assert next(bar.findtext("svg:title", namespaces=NS) for bar in drawn) == "İstanbul: 120"


def test_text_is_escaped_and_long_labels_shortened() -> None:
    label = '<script>alert("x")</script> & a label far longer than the label column'
    chart = bar_chart('Title <b>"&', [(label, 1)])
    assert "<script>" not in chart
    assert "<b>" not in chart
    root = parsed(chart)
    assert title_of(root) == 'Title <b>"&'
    (shown,) = texts(root, "bar-label")
    assert shown.endswith("…")
    assert label.startswith(shown[:-1])
    assert bars(root)[0].findtext("svg:title", namespaces=NS) == f"{label}: 1"


def test_ids_are_safe_and_told_apart() -> None:
    first = parsed(bar_chart("A", [("x", 1)], chart_id='1 "x"'))
    assert first.get("aria-labelledby") == "c-1--x--title"
    assert parsed(bar_chart("A", [("x", 1)])).get("aria-labelledby") != parsed(
        bar_chart("B", [("x", 1)])
    ).get("aria-labelledby")


LABELS = ["09:00", "09:01", "09:02", "09:03"]


def test_stacked_columns_draw_each_non_zero_value() -> None:
    series = [("hes", [1.0, 0.0, 2.0, 3.0]), ("obs", [0.5, 0.0, None, 1.0])]
    root = parsed(time_series("Calls per minute", LABELS, series, stacked=True))
    drawn = bars(root)
    assert len(drawn) == 5
    assert {bar.get("fill") for bar in drawn} == {PALETTE[0], PALETTE[1]}
    assert texts(root, "legend") == ["hes", "obs"]
    assert texts(root, "tick")[-4:] == LABELS
    # the tallest stack (4.0) fits under the top tick
    heights = [float(bar.get("height", "")) for bar in drawn]
    assert max(heights[2:4]) > 0
    assert all(h > 0 for h in heights)


def test_lines_break_where_a_value_is_missing() -> None:
    series = [("p50", [10.0, None, 12.0, 14.0]), ("p99", [None, 80.0, None, None])]
    root = parsed(time_series("Latency (ms)", LABELS, series))
    lines = list(root.iter(f"{SVG}polyline"))
    dots = list(root.iter(f"{SVG}circle"))
    assert len(lines) == 1
    assert len((lines[0].get("points") or "").split()) == 2
    assert len(dots) == 2  # the lone 10.0 and the lone 80.0
    assert texts(root, "legend") == ["p50", "p99"]


def test_at_most_six_x_labels_are_printed() -> None:
    labels = [f"{h:02d}:00" for h in range(72)]
    root = parsed(time_series("Calls", labels, [("all", [1.0] * 72)]))
    ticks = [t for t in texts(root, "tick") if ":" in t]
    assert ticks[0] == "00:00"
    assert ticks[-1] == "71:00"
    assert len(ticks) == 6


def test_a_share_bar_and_its_legend() -> None:
    root = parsed(share("Adli olgular", [("adli", 1), ("diğer", 3)]))
    widths = [float(bar.get("width", "")) for bar in bars(root)]
    assert widths[1] == 3 * widths[0]
    assert texts(root, "legend") == ["adli: 1 (25.0%)", "diğer: 3 (75.0%)"]


@pytest.mark.parametrize(
    "chart",
    [
        bar_chart("Bars", [], empty_text="Veri yok"),
        bar_chart("Bars", [("a", 0), ("b", 0)], empty_text="Veri yok"),
        time_series("Series", [], [], empty_text="Veri yok"),
        time_series("Series", LABELS, [("p50", [None] * 4)], empty_text="Veri yok"),
        time_series("Series", LABELS, [("a", [0.0] * 4)], stacked=True, empty_text="Veri yok"),
        share("Share", [("adli", 0), ("diğer", 0)], empty_text="Veri yok"),
    ],
)
def test_no_data_draws_a_no_data_picture(chart: Markup) -> None:
    root = parsed(chart)
    assert title_of(root)
    assert texts(root, "no-data") == ["Veri yok"]
    assert bars(root) == []


def test_the_tiniest_values_still_draw() -> None:
    root = parsed(time_series("Tiny", ["a", "b"], [("x", [5e-324, 0.0])]))
    assert texts(root, "no-data") == []


def test_numbers_print_briefly() -> None:
    assert [number(v) for v in (0, 3, 1234, 0.05, 2.5, 150.7)] == [
        "0",
        "3",
        "1,234",
        "0.05",
        "2.5",
        "151",
    ]


values = st.lists(st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False)), max_size=8)


@given(st.lists(st.tuples(st.text(max_size=50), values), max_size=10), st.booleans())
def test_any_series_draws_a_well_formed_image(
    series: Sequence[tuple[str, list[float | None]]], stacked: bool
) -> None:
    labels = [str(i) for i in range(6)]
    title_of(parsed(time_series("Any", labels, series, stacked=stacked)))
    pairs = [(name, v or 0.0) for name, vs in series for v in vs[:1]]
    title_of(parsed(bar_chart("Any", pairs)))
    title_of(parsed(share("Any", pairs)))
