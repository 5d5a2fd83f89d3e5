"""A metric's stored runs read as history: the band each run was allowed by the runs before it, and any drift. Pure."""

from __future__ import annotations

from typing import List, Optional, Sequence

from .bands import Allowance, history_allowance
from .store import Point
from .trend import DEFAULT_WINDOW, Drift, detect_drift


def series_drift(points: Sequence[Point], window: int = DEFAULT_WINDOW) -> Optional[Drift]:
    """The drift of a stored series, judged against its latest tolerance."""
    return detect_drift([p.value for p in points], points[-1].tolerance, points[-1].better, window)


def run_bands(points: Sequence[Point]) -> List[Optional[Allowance]]:
    """For each run, and then for the next one, the band the runs before it allow (None with too few of them)."""
    values = [p.value for p in points]
    tolerances = [p.tolerance for p in points] + [points[-1].tolerance]
    return [history_allowance(values[:index], tolerances[index]) for index in range(len(points) + 1)]
