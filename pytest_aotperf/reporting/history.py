"""The run history as people read it: per test, a metric's values over runs (text or HTML plots) and any drift."""

from __future__ import annotations

from html import escape
from typing import List, Mapping, Optional, Sequence, Tuple

from ..compare import REGRESSED
from ..history_store import Point
from ..measure.trend import DEFAULT_WINDOW, Drift, detect_drift
from ..units import format_quantity
from .html import line_plot, page, status_color, tolerance_band


def series_drift(points: Sequence[Point], window: int = DEFAULT_WINDOW) -> Optional[Drift]:
    """The drift of a stored series, judged against its latest tolerance."""
    return detect_drift([p.value for p in points], points[-1].tolerance, points[-1].better, window)


def history_lines(
    series: Mapping[Tuple[str, str], Sequence[Point]], metric: str, window: int = DEFAULT_WINDOW
) -> List[str]:
    """Per test: one line per run (time, commit, value, change from the first run), then any drift."""
    lines = []
    for (test, backend), points in series.items():
        first = points[0].value
        lines.append(f"{test} ({backend}) {metric}: {len(points)} run(s)")
        for point in points:
            change = f"{point.value / first - 1:+.1%}" if first else ""
            lines.append(
                f"  {point.time:25}  {(point.commit or '-')[:10]:10}  "
                f"{format_quantity(point.value, point.unit):>12}  {change}"
            )
        drift = series_drift(points, window)
        if drift is not None:
            lines.append(f"  DRIFT {test} ({backend}) {metric}: {drift.describe()}")
    return lines


def history_html(series: Mapping[Tuple[str, str], Sequence[Point]], metric: str, window: int = DEFAULT_WINDOW) -> str:
    """A page with one plot per test of `metric` over runs; the band is the latest baseline's tolerance."""
    parts = []
    for (test, backend), points in series.items():
        last = points[-1]
        drift = series_drift(points, window)
        note = f"<p style='color:{status_color(REGRESSED)}'><b>{escape(drift.describe())}</b></p>" if drift else ""
        labels = [(f"{p.time[:10]} {(p.commit or '')[:7]}".strip(), p.value) for p in points]
        parts.append(
            f"<h2>{escape(test)} <span class='meta'>({escape(backend)})</span></h2>{note}"
            + line_plot(labels, last.unit, tolerance_band(last.baseline, last.tolerance))
        )
    return page(f"aotperf history: {metric}", "".join(parts) or "<p>No runs recorded this metric.</p>")
