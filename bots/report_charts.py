"""The report's PNG: daily volume by channel, first response against SLA, deflection and CSAT
trends, SLA breaches by department (matplotlib's Agg canvas; no display, no global state)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from tickets.reports import CLOCKS, FIRST_RESPONSE_BUCKETS, FIRST_RESPONSE_LAST_BUCKET

if TYPE_CHECKING:
    from bots.reporting import ChartSeries, Report

WIDTH_IN, HEIGHT_IN, DPI = 12, 9, 100  # 1200 x 900 pixels
WIDTH_PX, HEIGHT_PX = WIDTH_IN * DPI, HEIGHT_IN * DPI
OUTCOME_COLOURS = {"met": "#2e7d32", "breached": "#c62828", "no target": "#9e9e9e"}
CLOCK_LABELS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


MAX_BARS = 366  # a longer period is drawn in bars of several days each


@dataclass(frozen=True)
class Days:
    """The time axis of the per-day charts: a bar per day, or per `size` days when the period
    has more than `MAX_BARS` days (a ten-year report would otherwise draw 3,650 bars, and a
    longer one take minutes)."""

    first: date
    size: int
    bars: int
    with_year: bool

    @classmethod
    def of(cls, report: Report) -> Days:
        first: date = report.window.since.date()
        last: date = (report.window.until - timedelta(microseconds=1)).date()
        count = (last - first).days + 1
        size = max(1, math.ceil(count / MAX_BARS))
        return cls(first, size, math.ceil(count / size), first.year != last.year)

    def __len__(self) -> int:
        return self.bars

    def at(self, day: str) -> int | None:
        """The bar of a `YYYY-MM-DD` day (None outside the period)."""
        try:
            offset = (date.fromisoformat(day) - self.first).days
        except ValueError:
            return None
        bar = offset // self.size
        return bar if offset >= 0 and bar < self.bars else None

    def label(self, bar: int) -> str:
        start = (self.first + timedelta(days=bar * self.size)).isoformat()
        return start if self.with_year else start[5:]

    @property
    def unit(self) -> str:
        return "day" if self.size == 1 else f"{self.size} days"


def _whole_numbers(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _empty(ax: Any, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data in this period", ha="center", va="center", color="#757575")
    ax.set_xticks([])
    ax.set_yticks([])


def _tick_labels(ax: Any, days: Days) -> None:
    ax.set_xlim(-0.5, len(days) - 0.5)
    step = max(1, len(days) // 10)
    positions = list(range(0, len(days), step))
    ax.set_xticks(positions)
    ax.set_xticklabels([days.label(i) for i in positions], rotation=45, ha="right")


def _volume(ax: Any, series: ChartSeries, days: Days) -> None:
    title = f"Tickets created per {days.unit}, by channel"
    if not series.volume:
        _empty(ax, title)
        return
    channels = sorted({channel for _, channel, _ in series.volume})
    bottom = [0] * len(days)
    for channel in channels:
        heights = [0] * len(days)
        for day, name, count in series.volume:
            bar = days.at(day)
            if name == channel and bar is not None:
                heights[bar] += count
        ax.bar(range(len(days)), heights, bottom=bottom, label=channel)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_title(title)
    ax.set_ylabel("tickets")
    _whole_numbers(ax)
    _tick_labels(ax, days)
    ax.legend(loc="upper left", fontsize="small")


def _first_response(ax: Any, series: ChartSeries) -> None:
    title = "First response time against the SLA"
    if not series.first_response:
        _empty(ax, title)
        return
    buckets = [label for label, _ in FIRST_RESPONSE_BUCKETS] + [FIRST_RESPONSE_LAST_BUCKET]
    bottom = [0] * len(buckets)
    for outcome, colour in OUTCOME_COLOURS.items():
        heights = [0] * len(buckets)
        for bucket, name, count in series.first_response:
            if name == outcome and bucket in buckets:
                heights[buckets.index(bucket)] += count
        if any(heights):
            ax.bar(range(len(buckets)), heights, bottom=bottom, color=colour, label=outcome)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_title(title)
    ax.set_ylabel("tickets")
    _whole_numbers(ax)
    ax.set_xticks(range(len(buckets)))
    ax.set_xticklabels(buckets, rotation=45, ha="right")
    ax.legend(loc="upper right", fontsize="small")


def _trends(ax: Any, series: ChartSeries, days: Days) -> None:
    title = f"Bot deflection and CSAT per {days.unit}"
    if not series.deflection and not series.csat:
        _empty(ax, title)
        return
    judged: dict[int, list[int]] = {}  # bar -> [judged, verified, assumed]
    for k in series.deflection:
        bar = days.at(k.key)
        if bar is not None and k.judged:
            sums = judged.setdefault(bar, [0, 0, 0])
            sums[0] += k.judged
            sums[1] += k.verified
            sums[2] += k.assumed
    points = [(bar, v / n * 100, a / n * 100) for bar, (n, v, a) in sorted(judged.items())]
    if points:
        xs = [p[0] for p in points]
        ax.plot(xs, [p[1] for p in points], marker="o", color="#1565c0", label="verified %")
        ax.plot(xs, [p[2] for p in points], marker="o", color="#90caf9", label="assumed %")
    ax.set_ylim(0, 100)
    ax.set_ylabel("deflected questions (%)")
    ax.set_title(title)
    rated: dict[int, list[float]] = {}  # bar -> [ratings, sum of scores]
    for day, ratings, average in series.csat:
        bar = days.at(day)
        if bar is not None and ratings:
            scores = rated.setdefault(bar, [0.0, 0.0])
            scores[0] += ratings
            scores[1] += ratings * average
    csat = [(bar, total / count) for bar, (count, total) in sorted(rated.items())]
    right = ax.twinx()
    if csat:
        right.plot([c[0] for c in csat], [c[1] for c in csat], marker="s", color="#ef6c00")
        right.plot([], [], marker="s", color="#ef6c00", label="CSAT average")
    right.set_ylim(1, 5)
    right.set_ylabel("CSAT (1-5)")
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = right.get_legend_handles_labels()
    if handles or more_handles:
        ax.legend(handles + more_handles, labels + more_labels, loc="upper left", fontsize="small")
    _tick_labels(ax, days)


def _breaches(ax: Any, series: ChartSeries) -> None:
    title = "SLA breaches by department"
    if not any(count for _, _, count in series.breaches):
        _empty(ax, title)
        return
    departments = sorted({d for d, _, _ in series.breaches})
    width = 0.8 / len(CLOCKS)
    for offset, clock in enumerate(CLOCKS):
        heights = [
            sum(n for d, c, n in series.breaches if d == department and c == clock)
            for department in departments
        ]
        xs = [i + (offset - (len(CLOCKS) - 1) / 2) * width for i in range(len(departments))]
        ax.bar(xs, heights, width=width, label=CLOCK_LABELS[clock])
    ax.set_title(title)
    ax.set_ylabel("tickets breached")
    _whole_numbers(ax)
    ax.set_xticks(range(len(departments)))
    ax.set_xticklabels(departments, rotation=30, ha="right")
    ax.legend(loc="upper right", fontsize="small")


def render_png(report: Report) -> bytes:
    """The four charts of `report` (built with `charts=True`) as a 1200x900 PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if report.charts is None:
        raise ValueError("the report was built without chart series (charts=True)")
    series = report.charts
    days = Days.of(report)
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 2)
    _volume(axes[0][0], series, days)
    _first_response(axes[0][1], series)
    _trends(axes[1][0], series, days)
    _breaches(axes[1][1], series)
    since, until = report.window.since, report.window.until
    figure.suptitle(f"relaydesk report {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC")
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
