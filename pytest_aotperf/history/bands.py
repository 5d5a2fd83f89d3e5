"""A metric's noise learned from its own history: the band the next run should fall in, and steps to new levels. Pure.

The band is a prediction interval of the next run's value from the earlier runs' values, on the log
scale (run-to-run changes are relative): geometric mean times exp(+-t * s * sqrt(1 + 1/n)). Steps are
found much as asv finds them: the piecewise-constant fit of the (log) values that minimises the squared
error plus a penalty per segment, solved exactly by dynamic programming; the fit sees the values through
a running median of three, so that one outlying run is not taken for two steps.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

HISTORY_MIN_RUNS = 10
"""Fewer earlier runs than this give no band: the verdict keeps the tolerance rule."""
HISTORY_CONFIDENCE = 0.99
HISTORY_WINDOW = 30
"""The band is learned from at most this many of the latest runs."""
STEP_MIN_SEGMENT = 2
"""A level must hold for this many runs to count: one outlying run is not a step."""
STEP_PENALTY = 4.0
"""Penalty per segment, in units of sigma^2 * log(n) (BIC's is 2): higher finds fewer steps."""
STEP_CONFIRMING_RUNS = 3
"""Runs at a new level before the history band restarts from it."""
STEP_MIN_SIGMA = 1e-3
"""Noise floor (relative) of the step fit, so that exactly repeating values do not make every change a step."""


@dataclass(frozen=True)
class Allowance:
    """Where the next run's value may fall before it counts as a change, learned from `runs` earlier runs."""

    reference: float
    """The runs' geometric mean: the value the current run is compared with."""
    low: float
    high: float
    runs: int
    confidence: float
    source: str = "history"
    """Where the runs come from: "history" (--aot-history) or "baseline runs" (the runs a baseline recorded)."""

    @property
    def reference_label(self) -> str:
        """What a verdict calls the value it compares with: "history mean", "baseline runs mean"."""
        return f"{self.source} mean"

    def fraction(self, better: str) -> float:
        """The allowed relative change in the worse direction."""
        return self.high / self.reference - 1 if better == "lower" else 1 - self.low / self.reference

    def describe(self) -> str:
        return f"{self.source} band from {self.runs} runs ({self.confidence * 100:g}% prediction interval)"


@dataclass(frozen=True)
class Step:
    """A change of level: the runs from `index` on hold `after`, those before it `before` (medians)."""

    index: int
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after / self.before - 1


def student_t_quantile(p: float, df: int) -> float:
    """The `p` quantile of Student's t distribution with `df` degrees of freedom (bisection on its CDF)."""
    if not 0 < p < 1 or df < 1:
        raise ValueError(f"t quantile needs 0 < p < 1 and df >= 1, not p={p}, df={df}")
    if p < 0.5:
        return -student_t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < p:
        low, high = high, high * 2
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if _t_cdf(middle, df) < p else (low, middle)
    return (low + high) / 2


def prediction_band(values: Sequence[float], confidence: float = HISTORY_CONFIDENCE) -> Tuple[float, float, float]:
    """(geometric mean, low, high): the interval holding the next value with `confidence`, on the log scale."""
    if len(values) < 2 or min(values) <= 0:
        raise ValueError(f"a prediction band needs two or more positive values, not {list(values)}")
    logs = [math.log(v) for v in values]
    centre, spread = statistics.fmean(logs), statistics.stdev(logs)
    half = student_t_quantile((1 + confidence) / 2, len(logs) - 1) * spread * math.sqrt(1 + 1 / len(logs))
    return math.exp(centre), math.exp(centre - half), math.exp(centre + half)


def history_allowance(
    run_values: Sequence[float],
    tolerance: float,
    min_runs: int = HISTORY_MIN_RUNS,
    confidence: float = HISTORY_CONFIDENCE,
    window: int = HISTORY_WINDOW,
) -> Optional[Allowance]:
    """The band of the latest `window` earlier runs, never narrower than `tolerance`; None below `min_runs` runs.

    Only the runs since the last level step that STEP_CONFIRMING_RUNS runs bear out count: after a
    step (an intended change, or a regression already reported) the band is learned anew from the
    new level, and one outlying run at the end is no step.
    """
    values = list(run_values)
    steps = [step for step in level_steps(values) if len(values) - step.index >= STEP_CONFIRMING_RUNS]
    since_step = values[steps[-1].index :] if steps else values
    recent = since_step[-window:]
    if len(recent) < max(min_runs, 2) or min(recent) <= 0:
        return None
    return band_allowance(recent, tolerance, confidence)


def band_allowance(values: Sequence[float], tolerance: float, confidence: float, source: str = "history") -> Allowance:
    """The prediction band of `values` (two or more, positive), never narrower than `tolerance`."""
    reference, low, high = prediction_band(values, confidence)
    return Allowance(
        reference=reference,
        low=min(low, reference * (1 - tolerance)),
        high=max(high, reference * (1 + tolerance)),
        runs=len(values),
        confidence=confidence,
        source=source,
    )


def level_steps(values: Sequence[float], penalty: float = STEP_PENALTY) -> Tuple[Step, ...]:
    """The runs where the values moved to a new level (none for fewer than two segments' worth of runs)."""
    if len(values) < 2 * STEP_MIN_SEGMENT or min(values) <= 0:
        return ()
    logs = [math.log(v) for v in values]
    sigma = max(_noise_sigma(logs), STEP_MIN_SIGMA)
    starts = _segment_starts(_running_median(logs), penalty * sigma**2 * math.log(len(logs)))
    bounds = [*starts, len(values)]
    levels = [statistics.median(values[a:b]) for a, b in zip(bounds, bounds[1:])]
    return tuple(Step(index=start, before=a, after=b) for start, a, b in zip(starts[1:], levels, levels[1:]))


def _noise_sigma(logs: Sequence[float]) -> float:
    """The run-to-run noise from successive differences (median absolute, so the steps themselves barely count)."""
    differences = [abs(b - a) for a, b in zip(logs, logs[1:])]
    return 1.4826 * statistics.median(differences) / math.sqrt(2)


def _running_median(logs: Sequence[float]) -> List[float]:
    """Each value replaced by the median of it and its two neighbours (the ends kept): steps stay, single runs go."""
    inner = [statistics.median(logs[i - 1 : i + 2]) for i in range(1, len(logs) - 1)]
    return [logs[0], *inner, logs[-1]]


def _segment_starts(logs: Sequence[float], penalty: float) -> List[int]:
    """The starts of the segments of the optimal partition (squared error plus `penalty` per segment)."""
    n = len(logs)
    sums, squares = [0.0], [0.0]
    for value in logs:
        sums.append(sums[-1] + value)
        squares.append(squares[-1] + value * value)

    def cost(a: int, b: int) -> float:
        total = sums[b] - sums[a]
        return squares[b] - squares[a] - total * total / (b - a)

    best = [0.0] + [math.inf] * n
    previous = [0] * (n + 1)
    for end in range(STEP_MIN_SEGMENT, n + 1):
        for start in range(0, end - STEP_MIN_SEGMENT + 1):
            if start and start < STEP_MIN_SEGMENT:
                continue
            candidate = best[start] + cost(start, end) + penalty
            if candidate < best[end]:
                best[end], previous[end] = candidate, start
    starts, end = [], n
    while end > 0:
        end = previous[end]
        starts.append(end)
    return starts[::-1]


def _t_cdf(t: float, df: int) -> float:
    """P(T <= t) for t >= 0: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t^2)."""
    return 1 - _regularized_beta(df / (df + t * t), df / 2, 0.5) / 2


def _regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) by its continued fraction (Numerical Recipes' betacf, modified Lentz)."""
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    if x > (a + 1) / (a + b + 2):
        return 1 - _regularized_beta(1 - x, b, a)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x))
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return front * fraction / a
