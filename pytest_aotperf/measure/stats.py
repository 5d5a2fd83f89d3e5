"""Summary statistics and the bootstrap interval of a ratio of medians. Pure: no torch."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import median
from typing import Sequence, Tuple

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240917
"""Fixed, so that a verdict on the same samples is the same every time."""
CONFIDENCE = 0.95
STORED_SAMPLES = 200
"""How many samples a baseline keeps per metric (quantile-spaced, so the distribution survives)."""


@dataclass(frozen=True)
class Summary:
    """Summary statistics of a sample set (as torch.utils.benchmark's Measurement derives them)."""

    n: int
    min: float
    median: float
    mean: float
    stddev: float
    iqr: float
    p90: float
    p99: float


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of already sorted values (numpy's default method)."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarize(samples: Sequence[float]) -> Summary:
    """The summary statistics of `samples` (at least one)."""
    if not samples:
        raise ValueError("cannot summarise an empty sample set")
    ordered = sorted(samples)
    n = len(ordered)
    mean = math.fsum(ordered) / n
    variance = math.fsum((x - mean) ** 2 for x in ordered) / (n - 1) if n > 1 else 0.0
    return Summary(
        n=n,
        min=ordered[0],
        median=quantile(ordered, 0.5),
        mean=mean,
        stddev=math.sqrt(variance),
        iqr=quantile(ordered, 0.75) - quantile(ordered, 0.25),
        p90=quantile(ordered, 0.90),
        p99=quantile(ordered, 0.99),
    )


def thin(samples: Sequence[float], keep: int = STORED_SAMPLES) -> Tuple[float, ...]:
    """At most `keep` samples, evenly spaced in rank, so their quantiles match the full set's."""
    ordered = sorted(samples)
    if len(ordered) <= keep:
        return tuple(ordered)
    return tuple(ordered[int((i + 0.5) * len(ordered) / keep)] for i in range(keep))


def ratio_of_medians_interval(
    baseline: Sequence[float],
    current: Sequence[float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> Tuple[float, float]:
    """Percentile-bootstrap interval of median(current) / median(baseline)."""
    if not baseline or not current:
        raise ValueError("the bootstrap needs samples on both sides")
    rng = random.Random(seed)
    base, cur = list(baseline), list(current)
    ratios = []
    for _ in range(resamples):
        b = median(rng.choices(base, k=len(base)))
        c = median(rng.choices(cur, k=len(cur)))
        ratios.append(c / b if b > 0 else math.inf)
    ratios.sort()
    tail = (1.0 - confidence) / 2
    return quantile(ratios, tail), quantile(ratios, 1.0 - tail)


def relative_spread(run_values: Sequence[float]) -> float:
    """How far the runs' values stray from their median, as a fraction of it (0 for one run)."""
    if len(run_values) < 2:
        return 0.0
    centre = median(run_values)
    if centre <= 0:
        return 0.0
    return max(abs(v / centre - 1.0) for v in run_values)
