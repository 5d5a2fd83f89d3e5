"""The run history (--aot-history): every run's values in SQLite, and the detection of slow drift.

A metric that worsens a little each night stays under its tolerance every time it is judged
against a freshly refreshed baseline; its trend over the last runs shows the drift.
"""

from __future__ import annotations

import sqlite3
import statistics
from contextlib import closing
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..units import format_quantity
from ..verdict import REGRESSED
from .html import line_plot, page, status_color, tolerance_band

DEFAULT_WINDOW = 10
"""How many of the latest runs the drift detection looks at."""
MIN_RUNS = 5
"""Fewer runs than this are not a trend."""
MIN_AGREEMENT = 0.6
"""Kendall's tau the runs must reach in the worse direction: most pairs of runs agree on the trend."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, machine TEXT NOT NULL, commit_id TEXT);
CREATE TABLE IF NOT EXISTS measurements (
    run INTEGER NOT NULL REFERENCES runs(id), nodeid TEXT NOT NULL, test TEXT NOT NULL, backend TEXT NOT NULL,
    metric TEXT NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, better TEXT NOT NULL,
    baseline REAL, tolerance REAL NOT NULL, status TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Point:
    """One run's value of one metric."""

    run: int
    time: str
    commit: str
    value: float
    baseline: Optional[float]
    tolerance: float
    unit: str
    better: str


@dataclass(frozen=True)
class Drift:
    """A trend in the worse direction whose total change over `runs` runs exceeds the tolerance."""

    runs: int
    change: float
    """Relative change of the fitted trend from the first to the last of the runs."""
    largest_step: float
    """The largest change between two consecutive runs (each may be well within the tolerance)."""
    agreement: float
    """Kendall's tau of the runs in the worse direction (1: every run worse than all before it)."""
    tolerance: float

    def describe(self) -> str:
        return (
            f"drift: {self.change:+.1%} over the last {self.runs} runs (trend), beyond the tolerance "
            f"{self.tolerance:.0%}, although no run changed by more than {self.largest_step:.1%} "
            f"from the one before (trend agreement {self.agreement:.2f})"
        )


def append_run(db: Path, report: Mapping[str, Any]) -> int:
    """Store every measured metric of a JSON report (--aot-report's content) as one run; its id."""
    environment = report["environment"]
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.executescript(SCHEMA)
        run = connection.execute(
            "INSERT INTO runs (time, machine, commit_id) VALUES (?, ?, ?)",
            (environment.get("time") or "", report["machine"], environment.get("commit")),
        ).lastrowid
        assert run is not None  # an INSERT always sets it
        connection.executemany(
            "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run,
                    test["nodeid"],
                    test["test"],
                    test["backend"],
                    name,
                    verdict["current"],
                    verdict.get("unit", ""),
                    test["metrics"][name]["better"],
                    verdict.get("baseline"),
                    verdict["tolerance"],
                    verdict["status"],
                )
                for test in report["tests"]
                for name, verdict in test["verdicts"].items()
                if verdict.get("current") is not None
            ],
        )
    return run


def load_series(
    db: Path, metric: str, test: Optional[str] = None, machine: Optional[str] = None
) -> Dict[Tuple[str, str], List[Point]]:
    """Each (test, backend)'s values of `metric` in run order; `test` matches any part of the node id."""
    if not Path(db).exists():
        raise FileNotFoundError(f"{db}: no history here; runs are added with --aot-history={db}")
    query = (
        "SELECT m.test, m.backend, r.id, r.time, r.commit_id, m.value, m.baseline, m.tolerance, m.unit, m.better "
        "FROM measurements m JOIN runs r ON r.id = m.run WHERE m.metric = ? "
        "AND instr(m.nodeid, ?) > 0 AND (? IS NULL OR r.machine = ?) ORDER BY m.test, m.backend, r.id"
    )
    series: Dict[Tuple[str, str], List[Point]] = {}
    with closing(sqlite3.connect(db)) as connection:
        for name, backend, *point in connection.execute(query, (metric, test or "", machine, machine)):
            series.setdefault((name, backend), []).append(Point(*point))
    return series


def theil_sen_slope(values: Sequence[float]) -> float:
    """The median of the slopes between every pair of runs: a trend that single outliers do not move."""
    return statistics.median(
        (values[j] - values[i]) / (j - i) for i in range(len(values)) for j in range(i + 1, len(values))
    )


def kendall_tau(values: Sequence[float]) -> float:
    """Rank agreement of the values with their order: 1 rising throughout, -1 falling throughout."""
    pairs = [(i, j) for i in range(len(values)) for j in range(i + 1, len(values))]
    signs = [(values[j] > values[i]) - (values[j] < values[i]) for i, j in pairs]
    return sum(signs) / len(pairs)


def detect_drift(
    values: Sequence[float], tolerance: float, better: str = "lower", window: int = DEFAULT_WINDOW
) -> Optional[Drift]:
    """The drift of the last `window` values, or None when they show no worsening trend beyond `tolerance`."""
    recent = list(values)[-window:]
    if len(recent) < MIN_RUNS:
        return None
    slope = theil_sen_slope(recent)
    intercept = statistics.median(v - slope * i for i, v in enumerate(recent))
    start, end = intercept, intercept + slope * (len(recent) - 1)
    if start <= 0:
        return None
    change = end / start - 1
    direction = 1 if better == "lower" else -1
    agreement = kendall_tau(recent) * direction
    if change * direction <= tolerance or agreement < MIN_AGREEMENT:
        return None
    steps = [abs(b / a - 1) for a, b in zip(recent, recent[1:]) if a]
    return Drift(
        runs=len(recent), change=change, largest_step=max(steps, default=0.0), agreement=agreement, tolerance=tolerance
    )


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
