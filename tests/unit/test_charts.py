"""The server-side SVG charts: well-formed, accessible, escaped, French numbers, readable geometry."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest

from cirqliz.web.charts import (
    NNBSP,
    WIDTH,
    Series,
    bar_chart,
    format_number,
    horizontal_bar_chart,
    nice_ticks,
    stacked_bar_chart,
    wrap,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script> & "x" \'y\' </svg>'


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_french_number_formatting() -> None:
    assert format_number(0) == "0"
    assert format_number(999) == "999"
    assert format_number(1234) == f"1{NNBSP}234"
    assert format_number(200000) == f"200{NNBSP}000"
    assert format_number(2.5) == "2,5"
    assert format_number(3.0) == "3"


@pytest.mark.parametrize(("maximum", "ticks"), [
    (0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (10, [0, 5, 10]),
    (123, [0, 50, 100, 150]), (200_000, [0, 50_000, 100_000, 150_000, 200_000]),
])
def test_axis_ticks_are_round_and_cover_the_maximum(maximum: int, ticks: list[int]) -> None:
    assert nice_ticks(maximum) == ticks


def test_a_bar_chart_is_an_accessible_image_with_one_bar_per_category() -> None:
    root = parse(bar_chart(["17/11", "18/11", "19/11"], [2, 0, 1234], chart_id="c1", title="Demandes",
                           desc="Une barre par jour"))
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-t c1-d"
    assert root.get("viewBox").startswith(f"0 0 {WIDTH} ")
    assert root.find(f"{SVG}title").text == "Demandes" and root.find(f"{SVG}desc").text == "Une barre par jour"
    bars = root.findall(f"{SVG}g[@class='bar']")
    assert [b.find(f"{SVG}title").text for b in bars] == ["17/11 : 2", "18/11 : 0", f"19/11 : 1{NNBSP}234"]
    assert [r.get("data-value") for b in bars for r in b.findall(f"{SVG}rect")] == ["2", "1234"]
    heights = [float(r.get("height")) for b in bars for r in b.findall(f"{SVG}rect")]
    assert heights[1] > 300 * heights[0] > 0  # to scale (heights are rounded to 0.1)
    # French numbers on the axis.
    assert f"1{NNBSP}500" in [t.text for t in root.iter(f"{SVG}text")]


def test_every_text_is_escaped() -> None:
    markup = str(horizontal_bar_chart([HOSTILE], [3], chart_id='z"><script>', title=HOSTILE, desc=HOSTILE))
    assert "<script>" not in markup and "</svg>" in markup and markup.count("</svg>") == 1
    root = parse(markup)  # still well-formed XML
    assert root.find(f"{SVG}title").text == HOSTILE
    stacked = str(stacked_bar_chart([HOSTILE], [Series(HOSTILE, [1], "#000")], chart_id="s", title="t", desc="d"))
    assert "<script>" not in stacked
    parse(stacked)


def test_stacked_bars_keep_the_legend_order_and_patterns() -> None:
    series = [Series("Valide", [1, 0], "#18753c"), Series("Refusé", [2, 1], "#ce0500", "hatch"),
              Series("À vérifier", [0, 3], "#8f4a00", "dots")]
    root = parse(stacked_bar_chart(["0 h", "1 h"], series, chart_id="v", title="t", desc="d"))
    legend = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "legend"]
    assert legend == ["Valide", "Refusé", "À vérifier"]
    patterns = {p.get("id") for p in root.iter(f"{SVG}pattern")}
    assert patterns == {"v-p1", "v-p2"}
    first, second = root.findall(f"{SVG}g[@class='bar']")
    assert first.find(f"{SVG}title").text == "0 h : Valide 1 ; Refusé 2 ; À vérifier 0"
    rects = second.findall(f"{SVG}rect")
    # Bottom to top in series order: each next segment sits above the previous one.
    assert [r.get("data-series") for r in rects] == ["1", "2"]
    assert float(rects[1].get("y")) < float(rects[0].get("y"))
    assert rects[0].get("fill") == "url(#v-p1)" and rects[1].get("fill") == "url(#v-p2)"


def test_thirty_day_labels_do_not_overlap() -> None:
    labels = [f"{d:02d}/11" for d in range(1, 31)]
    root = parse(bar_chart(labels, list(range(30)), chart_id="m", title="t", desc="d"))
    ticks = [t for t in root.iter(f"{SVG}text") if t.text in labels]
    xs = [float(t.get("x")) for t in ticks]
    assert 4 <= len(ticks) < 30
    assert min(b - a for a, b in itertools.pairwise(xs)) > 5 * 0.56 * 11  # a label's width
    assert all(0 <= x <= WIDTH for x in xs)


def test_long_labels_wrap_on_two_lines_and_stay_inside() -> None:
    label = "Signature invalide : laissez-passer falsifié ou altéré, et bien d'autres mots encore ici"
    lines = wrap(label, 200)
    assert len(lines) == 2 and lines[-1].endswith("…")
    assert wrap("Court", 200) == ["Court"] and wrap("", 200) == [""]
    assert wrap("x" * 200, 100)[0].endswith("…")
    root = parse(horizontal_bar_chart([label, "Court"], [5, 0], chart_id="h", title="t", desc="d"))
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert widths[1] == 0 and 0 < widths[0] < WIDTH
    assert re.search(r"\d", root.find(f"{SVG}g/{SVG}title").text)
