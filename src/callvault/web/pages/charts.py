"""Bar charts as geometry for server-rendered SVG: numbers in, rectangle coordinates, axis
ticks and labels out.

The pages draw charts without a script (the CSP allows none inline, and the UI has none
but the player's), so the server works out where every bar goes and the template writes
``<rect>`` and ``<text>`` elements from it. Everything here is pure: the same numbers give
the same picture, and the tests check the arithmetic without a browser.

Coordinates are in the SVG's own units (its ``viewBox``); the stylesheet scales the whole
picture to the page's width, so text and bars keep their proportions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The picture's size in viewBox units; vertical charts are this wide and high.
WIDTH = 720.0
HEIGHT = 240.0
# Room around the plot: numbers of the value axis on the left, category labels below.
LEFT, RIGHT, TOP, BOTTOM = 44.0, 8.0, 12.0, 26.0
# A horizontal chart's rows, and the room its category names take on the left.
ROW, ROW_GAP, NAME_ROOM = 26.0, 8.0, 250.0
# Room at a horizontal bar's end for its value ("1234").
VALUE_ROOM = 48.0
# The gap between columns, as a share of each column's slot.
GAP_SHARE = 0.2
# A count above nought never draws thinner than this, so one call among thousands shows.
MIN_BAR = 1.5
# About how wide one character of axis text is (13-unit type, as demand.css sets it), a
# little over, to keep labels apart.
CHAR_WIDTH = 7.0
# The most gridlines (ticks) a value axis gets above nought.
MAX_TICKS = 5


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: what it counts, the count, and its rectangle."""

    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Tick:
    """A value on the value axis, and where its gridline falls (y for columns, x for rows)."""

    value: int
    at: float


@dataclass(frozen=True, slots=True)
class Label:
    """Text on the category axis: its anchor point (the middle of its bar's slot)."""

    text: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything a template needs to draw one bar chart.

    ``left``/``top``/``right``/``bottom`` bound the plot area; ``horizontal`` charts have a
    row per item with its name on the left and its value at the bar's end (``values``).
    """

    width: float
    height: float
    left: float
    top: float
    right: float
    bottom: float
    horizontal: bool
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[Label, ...]
    values: tuple[Label, ...] = ()

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)


def axis_step(largest: int, most: int = MAX_TICKS) -> int:
    """The gap between ticks: the smallest of 1, 2, 5, 10, 20, 50… that needs no more
    than ``most`` ticks above nought to reach ``largest``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if -(-max(largest, 1) // (step * factor)) <= most:
                return step * factor
        step *= 10


def axis_top(largest: int) -> int:
    """The value axis's top: ``largest`` rounded up to a whole number of steps (1 when
    every count is nought, so an empty chart still has an axis)."""
    step = axis_step(largest)
    return max(1, -(-largest // step)) * step


def ticks_to(top: int) -> list[int]:
    """The tick values from nought to ``top``."""
    step = axis_step(top)
    return list(range(0, top + 1, step))


def label_every(count: int, room: float, longest: int) -> int:
    """Show every n-th category label so that labels ``longest`` characters long do not
    run into each other when ``count`` share ``room`` units."""
    if count <= 0:
        return 1
    slot = room / count
    needed = longest * CHAR_WIDTH + 6.0
    every = 1
    while slot * every < needed:
        every += 1
    return every


def bar_length(value: int, top: int, room: float) -> float:
    """How long a bar for ``value`` is on an axis from nought to ``top`` over ``room``
    units: nought for nought, never under ``MIN_BAR`` for a count above it."""
    if value <= 0:
        return 0.0
    return max(MIN_BAR, room * value / top)


def column_chart(
    items: Sequence[tuple[str, int]],
    short: Sequence[str] | None = None,
    width: float = WIDTH,
    height: float = HEIGHT,
) -> Chart:
    """A column per item (left to right, in order), counts up the value axis on the left.

    ``short`` gives each item's text on the category axis where its ``label`` (which the
    data table and the bar's tooltip use) is too long to sit under a column."""
    axis_text = list(short) if short is not None else [label for label, _ in items]
    if len(axis_text) != len(items):
        raise ValueError("short must name every item")
    left, top_edge, right, bottom = LEFT, TOP, width - RIGHT, height - BOTTOM
    plot_w, plot_h = right - left, bottom - top_edge
    top = axis_top(max((value for _, value in items), default=0))
    slot = plot_w / len(items) if items else plot_w
    gap = slot * GAP_SHARE
    bars = []
    for n, (label, value) in enumerate(items):
        length = bar_length(value, top, plot_h)
        x = left + n * slot + gap / 2
        bars.append(Bar(label, value, round(x, 2), round(bottom - length, 2),
                        round(slot - gap, 2), round(length, 2)))  # fmt: skip
    every = label_every(len(items), plot_w, max((len(text) for text in axis_text), default=1))
    labels = tuple(
        Label(text, round(left + (n + 0.5) * slot, 2), bottom + 17.0)
        for n, text in enumerate(axis_text)
        if n % every == 0
    )
    ticks = tuple(Tick(value, round(bottom - plot_h * value / top, 2)) for value in ticks_to(top))
    return Chart(width, height, left, top_edge, right, bottom, False, tuple(bars), ticks, labels)


def row_chart(items: Sequence[tuple[str, int]], width: float = WIDTH) -> Chart:
    """A row per item (top to bottom, in order): its name on the left, a bar to the right
    as long as its count, and the count at the bar's end. The picture is as tall as its
    rows need."""
    left, top_edge = NAME_ROOM, TOP + 14.0  # the value axis's numbers sit above the rows
    right = width - VALUE_ROOM
    rows = max(len(items), 1)
    bottom = top_edge + rows * ROW + (rows - 1) * ROW_GAP
    height = bottom + 8.0
    top = axis_top(max((value for _, value in items), default=0))
    plot_w = right - left
    bars, names, values = [], [], []
    for n, (label, value) in enumerate(items):
        y = top_edge + n * (ROW + ROW_GAP)
        length = bar_length(value, top, plot_w)
        bars.append(Bar(label, value, left, round(y, 2), round(length, 2), ROW))
        middle = round(y + ROW / 2 + 4.5, 2)  # + about a third of 13-unit type: centred
        names.append(Label(fitted(label, NAME_ROOM - 12.0), left - 8.0, middle))
        values.append(Label(str(value), round(left + length + 6.0, 2), middle))
    ticks = tuple(Tick(value, round(left + plot_w * value / top, 2)) for value in ticks_to(top))
    return Chart(
        width, height, left, top_edge, right, bottom, True,
        tuple(bars), ticks, tuple(names), tuple(values),
    )  # fmt: skip


def fitted(text: str, room: float) -> str:
    """``text`` cut to what fits in ``room`` units, with an ellipsis where it was cut (the
    whole text is in the chart's table and the bar's tooltip)."""
    most = int(room // CHAR_WIDTH)
    return text if len(text) <= most else text[: max(most - 1, 1)].rstrip() + "\u2026"


def busiest(items: Sequence[tuple[str, int]]) -> tuple[str, int] | None:
    """The first item with the highest count; None when every count is nought."""
    best: tuple[str, int] | None = None
    for label, value in items:
        if value > 0 and (best is None or value > best[1]):
            best = (label, value)
    return best


def chart_summary(title: str, items: Sequence[tuple[str, int]], what: str = "calls") -> str:
    """One sentence that says what the chart shows, for a screen reader (its ``aria-label``):
    the title, the total and the highest bar."""
    total = sum(value for _, value in items)
    top = busiest(items)
    if top is None:
        return f"{title}: no {what} in this period."
    label, value = top
    return f"{title}: {total} {what} in all; highest: {label} ({value})."
