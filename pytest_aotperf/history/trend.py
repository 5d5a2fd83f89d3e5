"""Slow drift over a metric's runs: a robust trend (Theil-Sen) that most pairs of runs agree on (Kendall's tau). Pure.

A metric that worsens a little each night stays under its tolerance every time it is judged
against a freshly refreshed baseline; its trend over the last runs shows the drift.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Optional, Sequence

DEFAULT_WINDOW = 10
"""How many of the latest runs the drift detection looks at."""
MIN_RUNS = 5
"""Fewer runs than this are not a trend."""
MIN_AGREEMENT = 0.6
"""Kendall's tau the runs must reach in the worse direction: most pairs of runs agree on the trend."""


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
