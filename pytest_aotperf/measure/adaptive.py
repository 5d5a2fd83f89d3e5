"""When to stop sampling: once the median is known tightly enough for the metric's tolerance. Pure."""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence

from .stats import median_spread

STOP_FRACTION = 0.25
"""Sampling stops once the 95% interval of the median is narrower than this fraction of the tolerance."""


def tight(samples: Sequence[float], tolerance: float) -> bool:
    """Whether the 95% interval of the samples' median is narrower than STOP_FRACTION of `tolerance`."""
    return bool(samples) and median_spread(samples) < tolerance * STOP_FRACTION


def more_iterations_needed(series: Sequence[Sequence[float]], tolerance: float, cap: int) -> int:
    """How many more samples each of `series` (taken together, as latency and TPOT of one loop) needs.

    0 once every series is tight or `cap` samples are taken; otherwise as many as taken so far
    (rounds double), up to the cap.
    """
    taken = min(len(samples) for samples in series)
    if taken >= cap or all(tight(samples, tolerance) for samples in series):
        return 0
    return min(max(taken, 1), cap - taken)


def sample_until_tight(
    take: Callable[[int], List[float]], least: int, most: int, tolerance: Optional[float]
) -> List[float]:
    """`take(n)` returns n more samples: first `least`, then rounds until tight or `most` in all.

    Without a tolerance, `most` at once (the time budget decides alone).
    """
    if tolerance is None:
        return take(most)
    samples = take(min(least, most))
    while more := more_iterations_needed([samples], tolerance, most):
        samples += take(more)
    return samples
