"""The verdict: is a metric regressed, improved, unchanged or new against its baseline? Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from .baselines.entries import StoredMetric
from .measure.noise import Allowance
from .measure.stats import ratio_of_medians_interval, relative_spread
from .results import Metric
from .units import format_quantity

REGRESSED, IMPROVED, UNCHANGED, NEW, UNAVAILABLE = "regressed", "improved", "unchanged", "new", "unavailable"
MEMORY_SLACK_BYTES = 2 * 2**20
"""Memory may grow by this much beyond its tolerance before it counts (allocator rounding, page granularity)."""


@dataclass(frozen=True)
class Verdict:
    metric: str
    status: str
    current: Optional[float]
    baseline: Optional[float]
    unit: str
    tolerance: float
    change: Optional[float] = None
    """Relative change current/baseline - 1 (signed; positive is larger, whatever the direction)."""
    interval: Optional[Tuple[float, float]] = None
    """Bootstrap interval of the ratio current/baseline, for sampled metrics."""
    drift: float = 0.0
    """Run-to-run spread of the baseline's recorded runs, added to the tolerance."""
    flags: Tuple[str, ...] = ()
    note: str = ""

    def describe(self) -> str:
        """e.g. `latency median 2.31 ms vs baseline 1.20 ms (+92.5%, tolerance 10%)`."""
        label = f"{self.metric} median" if self.interval is not None else self.metric
        if self.current is None:
            return f"{self.metric}: unavailable ({self.note})"
        if self.baseline is None:
            return f"{label} {format_quantity(self.current, self.unit)} (no baseline)"
        change = f"{self.change:+.1%}" if self.change is not None else "n/a"
        tolerance = (
            f"tolerance {self.tolerance:.0%}"
            if self.tolerance * 100 == round(self.tolerance * 100)
            else f"tolerance {self.tolerance:.1%}"
        )
        if self.drift:
            tolerance += f" + run-to-run drift {self.drift:.1%}"
        if self.note:
            tolerance += f", {self.note}"
        current, baseline = format_quantity(self.current, self.unit), format_quantity(self.baseline, self.unit)
        text = f"{label} {current} vs baseline {baseline} ({change}, {tolerance})"
        if self.flags:
            text += f" [{', '.join(self.flags)}]"
        return text


def judge(
    current: Metric, stored: Optional[StoredMetric], tolerance: float, allowance: Optional[Allowance] = None
) -> Verdict:
    """Compare one measured metric with its stored baseline under a relative `tolerance`.

    With an `allowance` (the metric's band learned from the run history, `measure.noise.history_allowance`),
    a metric other than memory is judged by it instead: its value against the band around the history's mean.
    """
    if allowance is not None and current.available and current.kind != "memory":
        return _judge_by_history(current, allowance)
    base = dict(metric=current.name, unit=current.unit, tolerance=tolerance, flags=current.flags)
    if not current.available:
        return Verdict(
            status=UNAVAILABLE,
            current=None,
            baseline=stored.value if stored else None,
            note=current.unavailable or "",
            **base,
        )
    if stored is None or stored.value is None:
        return Verdict(status=NEW, current=current.value, baseline=None, **base)
    if stored.unit != current.unit or stored.better != current.better:
        return Verdict(
            status=NEW,
            current=current.value,
            baseline=None,
            note=f"baseline was in {stored.unit!r} ({stored.better} is better): not comparable",
            **base,
        )
    cur, ref = current.value, stored.value
    change = cur / ref - 1.0 if ref else None
    drift = relative_spread(stored.runs)
    interval = None
    if current.kind == "memory":
        status = _memory_status(cur, ref, tolerance, current.better)
    elif current.samples and stored.samples:
        interval = ratio_of_medians_interval(stored.samples, current.samples)
        status = _interval_status(interval, tolerance + drift, current.better)
    else:
        status = _interval_status(
            (cur / ref, cur / ref) if ref else _zero_ratio(cur), tolerance + drift, current.better
        )
    return Verdict(status=status, current=cur, baseline=ref, change=change, interval=interval, drift=drift, **base)


def _judge_by_history(current: Metric, allowance: Allowance) -> Verdict:
    value, reference = current.value, allowance.reference
    worse = value > allowance.high if current.better == "lower" else value < allowance.low
    better = value < allowance.low if current.better == "lower" else value > allowance.high
    return Verdict(
        metric=current.name,
        status=REGRESSED if worse else IMPROVED if better else UNCHANGED,
        current=value,
        baseline=reference,
        unit=current.unit,
        tolerance=allowance.fraction(current.better),
        change=value / reference - 1,
        flags=current.flags,
        note=allowance.describe(),
    )


def _interval_status(interval: Tuple[float, float], allowed: float, better: str) -> str:
    """Regressed only when the whole interval of current/baseline lies beyond the allowance."""
    low, high = interval
    grew, shrank = low - 1.0 > allowed, 1.0 - high > allowed
    if not (grew or shrank):
        return UNCHANGED
    worse = grew if better == "lower" else shrank
    return REGRESSED if worse else IMPROVED


def _memory_status(current: float, baseline: float, tolerance: float, better: str) -> str:
    grew = current > baseline * (1 + tolerance) + MEMORY_SLACK_BYTES
    shrank = current < baseline * (1 - tolerance) - MEMORY_SLACK_BYTES
    if not (grew or shrank):
        return UNCHANGED
    worse = grew if better == "lower" else shrank
    return REGRESSED if worse else IMPROVED


def _zero_ratio(current: float) -> Tuple[float, float]:
    """A zero baseline: any non-zero value is a change beyond every tolerance."""
    ratio = 1.0 if current == 0 else float("inf") if current > 0 else float("-inf")
    return ratio, ratio


def limit_violation(metric: Metric, limit: float) -> Optional[str]:
    """The failure text when `metric` breaks its absolute budget, else None."""
    if not metric.available:
        budget = format_quantity(limit, metric.unit)
        return f"{metric.name}: cannot check its limit {budget}: unavailable ({metric.unavailable})"
    broken = metric.value > limit if metric.better == "lower" else metric.value < limit
    if not broken:
        return None
    relation = "above" if metric.better == "lower" else "below"
    return (
        f"{metric.name} {format_quantity(metric.value, metric.unit)} is {relation} its limit "
        f"{format_quantity(limit, metric.unit)}"
    )
