"""The run history as people read it: per test, a metric's values over runs (text or HTML plots) beside the band
each run was allowed by the runs before it, any drift, and the runs where the metric stepped to a new level."""

from __future__ import annotations

from html import escape
from typing import List, Mapping, Optional, Sequence, Tuple

from ..history.bands import HISTORY_MIN_RUNS, Allowance, level_steps
from ..history.series import run_bands, series_drift
from ..history.store import Point
from ..history.trend import DEFAULT_WINDOW
from ..units import format_quantity
from ..verdict import REGRESSED
from .html import page
from .rows import status_color
from .svg import Mark, line_plot, tolerance_band


def history_lines(
    series: Mapping[Tuple[str, str], Sequence[Point]], metric: str, window: int = DEFAULT_WINDOW
) -> List[str]:
    """Per test: one line per run (time, commit, value, change from the first run, the band the earlier runs
    allowed it, `outside` when it fell beyond), the band of the next run, then any drift."""
    lines = []
    for (test, backend), points in series.items():
        first, bands = points[0].value, run_bands(points)
        lines.append(f"{test} ({backend}) {metric}: {len(points)} run(s)")
        for point, band in zip(points, bands):
            change = f"{point.value / first - 1:+.1%}" if first else ""
            lines.append(
                f"  {point.time:25}  {(point.commit or '-')[:10]:10}  "
                f"{format_quantity(point.value, point.unit):>12}  {change:<7}  {_band_text(band, point)}".rstrip()
            )
        if bands[-1] is not None:
            lines.append(f"  next run: {_band_text(bands[-1], points[-1])}")
        drift = series_drift(points, window)
        if drift is not None:
            lines.append(f"  DRIFT {test} ({backend}) {metric}: {drift.describe()}")
    return lines


def change_lines(series: Mapping[Tuple[str, str], Sequence[Point]], metric: str) -> List[str]:
    """Per test, the runs where `metric` stepped to a new level, with the commits on either side."""
    lines = []
    for (test, backend), points in series.items():
        steps = level_steps([p.value for p in points])
        lines.append(f"{test} ({backend}) {metric}: {len(steps)} step(s) in {len(points)} run(s)")
        for step in steps:
            before, after = points[step.index - 1], points[step.index]
            lines.append(
                f"  {after.time:25}  {(before.commit or '-')[:10]} -> {(after.commit or '-')[:10]}  "
                f"{format_quantity(step.before, after.unit)} -> {format_quantity(step.after, after.unit)}  "
                f"({step.change:+.1%})"
            )
    return lines


def _band_text(band: Optional[Allowance], point: Point) -> str:
    if band is None:
        return ""
    low, high = format_quantity(band.low, point.unit), format_quantity(band.high, point.unit)
    outside = not band.low <= point.value <= band.high
    return f"band {low} .. {high} ({band.runs} runs){'  outside' if outside else ''}"


def history_html(series: Mapping[Tuple[str, str], Sequence[Point]], metric: str, window: int = DEFAULT_WINDOW) -> str:
    """A page with one plot per test of `metric` over runs: shaded grey, the latest baseline's tolerance;
    shaded in the line's colour, the noise band each run was allowed by the runs before it; regressed runs
    ringed, change points as dashed lines; time and commit of each run on hover."""
    parts = []
    for (test, backend), points in series.items():
        last = points[-1]
        drift = series_drift(points, window)
        note = f"<p style='color:{status_color(REGRESSED)}'><b>{escape(drift.describe())}</b></p>" if drift else ""
        labels = [(f"{p.time[:10]} {(p.commit or '')[:7]}".strip(), p.value) for p in points]
        bands = [(b.low, b.high) if b is not None else None for b in run_bands(points)[:-1]]
        parts.append(
            f"<h2>{escape(test)} <span class='meta'>({escape(backend)})</span></h2>{note}"
            + line_plot(
                labels, last.unit, tolerance_band(last.baseline, last.tolerance), noise=bands, marks=_marks(points)
            )
        )
    legend = (
        "<p class='meta'>Grey: the latest baseline's tolerance. Blue: the band the runs before each run allowed it "
        f"(once {HISTORY_MIN_RUNS} runs at its level came before). Ringed: a regressed run. Dashed line: the metric "
        "stepped to a new level. Each run's time and commit on hover.</p>"
    )
    body = legend + "".join(parts) if parts else "<p>No runs recorded this metric.</p>"
    return page(f"aotperf history: {metric}", body)


def _marks(points: Sequence[Point]) -> List[Mark]:
    """The regressed runs (ringed) and the runs where the metric stepped to a new level (dashed lines)."""
    marks = [
        Mark(index, f"regressed: {point.commit or 'unknown commit'}", status_color(REGRESSED))
        for index, point in enumerate(points)
        if point.status == REGRESSED
    ]
    for step in level_steps([p.value for p in points]):
        before, after = points[step.index - 1], points[step.index]
        text = f"change point: {(before.commit or '-')[:10]} -> {(after.commit or '-')[:10]} ({step.change:+.1%})"
        marks.append(Mark(step.index, text, "#52606d", line=True))
    return marks
