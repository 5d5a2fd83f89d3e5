"""Summary statistics, the interval of a median and the bootstrap interval of a ratio of medians. Pure: no torch."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction
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


def median_interval(samples: Sequence[float], confidence: float = CONFIDENCE) -> Tuple[float, float]:
    """Distribution-free interval of the median: the order statistics x(k), x(n+1-k), for the
    largest k whose binomial(n, 1/2) tails leave at least `confidence` between them.

    Below 6 samples no such k exists at 95%: the interval is then (min, max), of lower coverage.
    """
    if not samples:
        raise ValueError("the interval of a median needs samples")
    ordered = sorted(samples)
    n = len(ordered)
    tail = (1 - Fraction(confidence)) / 2 * 2**n  # in units of 2**-n, so that the sums stay exact integers
    below, term, k = 0, 1, 0  # below: sum of C(n, j) for j < k; term: C(n, k)
    while k < n // 2 and below + term <= tail:
        below += term
        k += 1
        term = term * (n - k + 1) // k
    k = max(k, 1)
    return ordered[k - 1], ordered[n - k]


def median_spread(samples: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """The width of `median_interval` as a fraction of the median (infinite for a zero median with spread)."""
    low, high = median_interval(samples, confidence)
    centre = abs(median(samples))
    if high == low:
        return 0.0
    return (high - low) / centre if centre else math.inf


def relative_spread(run_values: Sequence[float]) -> float:
    """How far the runs' values stray from their median, as a fraction of it (0 for one run)."""
    if len(run_values) < 2:
        return 0.0
    centre = median(run_values)
    if centre <= 0:
        return 0.0
    return max(abs(v / centre - 1.0) for v in run_values)
