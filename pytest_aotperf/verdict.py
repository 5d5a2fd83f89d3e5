"""The verdict: is a metric regressed, improved, unchanged, noisy or new against its baseline? Pure."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, cast

from .environment_change import ENVIRONMENT_CHANGED, host_count_not_comparable
from .history.bands import Allowance
from .measure.stats import median_spread, ratio_of_medians_interval, relative_spread
from .metrics import Better, Kind, Metric, rounded
from .schema import SchemaError, choice, field, number, optional_number, require_object, strings
from .units import QuantityError, format_quantity, parse_quantity

Status = Literal["regressed", "improved", "unchanged", "noisy", "new", "info", "unavailable"]
REGRESSED: Status = "regressed"
IMPROVED: Status = "improved"
UNCHANGED: Status = "unchanged"
NOISY: Status = "noisy"
"""Too spread to judge: the 95% interval of the median is wider than the tolerance. Neither passes nor fails."""
NEW: Status = "new"
INFO: Status = "info"
"""An informational metric (`Metric.informational`): shown with its change, never judged."""
UNAVAILABLE: Status = "unavailable"
UNIT_CHANGED = "unit-changed"
DIRECTION_CHANGED = "direction-changed"
"""Flags of a new metric whose stored baseline is in another unit, or has the other direction: not compared."""
STATUSES: Tuple[Status, ...] = (REGRESSED, IMPROVED, UNCHANGED, NOISY, NEW, INFO, UNAVAILABLE)
MEMORY_SLACK_BYTES = 8 * 2**20
"""Memory may grow by this much beyond its tolerance before it counts: a test's own host peak RSS moved by
up to 4.1 MiB between identical runs on two H200 machines (profiler and allocator buffers), and torch's GPU
allocator rounds to 2 MiB blocks."""


@dataclass(frozen=True)
class Verdict:
    """One metric judged against its baseline, with the numbers the judgement rests on."""

    metric: str
    status: Status
    current: Optional[float]
    baseline: Optional[float]
    unit: str
    tolerance: float
    """0 for exact counts (kind "count"), which any change moves."""
    change: Optional[float] = None
    """Relative change current/baseline - 1 (signed; positive is larger, whatever the direction)."""
    interval: Optional[Tuple[float, float]] = None
    """Bootstrap interval of the ratio current/baseline, for sampled metrics."""
    drift: float = 0.0
    """Run-to-run spread of the baseline's recorded runs, added to the tolerance."""
    flags: Tuple[str, ...] = ()
    note: str = ""
    reference: str = ""
    """What `baseline` is when not the stored baseline: "history mean" or "baseline runs mean" for a band
    learned from runs."""

    def describe(self) -> str:
        """e.g. `latency median 2.31 ms vs baseline 1.20 ms (+92.5%, tolerance 10%)`."""
        label = f"{self.metric} median" if self.interval is not None else self.metric
        if self.current is None:
            return f"{self.metric}: unavailable ({self.note})"
        if self.baseline is None:
            without = f"no baseline; {self.note}" if self.note else "no baseline"
            return f"{label} {format_quantity(self.current, self.unit)} ({without})"
        change = f"{self.change:+.1%}" if self.change is not None else "n/a"
        current, baseline = format_quantity(self.current, self.unit), format_quantity(self.baseline, self.unit)
        text = f"{label} {current} vs {self.reference or 'baseline'} {baseline} ({change}, {self._allowance()})"
        if self.flags:
            text += f" [{', '.join(self.flags)}]"
        return f"{text}; {self.note}" if self.note else text

    def _allowance(self) -> str:
        if not self.tolerance and not self.drift:
            return "exact"
        tolerance = (
            f"tolerance {self.tolerance:.0%}"
            if self.tolerance * 100 == round(self.tolerance * 100)
            else f"tolerance {self.tolerance:.1%}"
        )
        return tolerance + (f" + run-to-run drift {self.drift:.1%}" if self.drift else "")

    def to_json(self) -> Dict[str, Any]:
        """The fields that are set, and the message."""
        data = {key: value for key, value in vars(self).items() if value not in (None, "", ())}
        data["message"] = self.describe()
        return data

    @classmethod
    def from_json(cls, metric: str, data: Any, where: str) -> Verdict:
        """The verdict on `metric` that `to_json` wrote; a SchemaError names the JSON path of anything malformed."""
        data = require_object(data, where)
        interval = field(data, "interval", list, where, None)
        if interval is not None and len(interval) != 2:
            raise SchemaError(f"{where}.interval: expected [low, high], found {interval!r}")
        return cls(
            metric=metric,
            status=cast(Status, choice(data, "status", STATUSES, where)),
            current=optional_number(data, "current", where),
            baseline=optional_number(data, "baseline", where),
            unit=field(data, "unit", str, where, ""),
            tolerance=number(data.get("tolerance"), f"{where}.tolerance"),
            change=optional_number(data, "change", where),
            interval=(
                (number(interval[0], f"{where}.interval[0]"), number(interval[1], f"{where}.interval[1]"))
                if interval is not None
                else None
            ),
            drift=number(data.get("drift", 0.0), f"{where}.drift"),
            flags=strings(data, "flags", where),
            note=field(data, "note", str, where, ""),
            reference=field(data, "reference", str, where, ""),
        )


def judge(
    current: Metric, baseline: Optional[Metric], tolerance: float, allowance: Optional[Allowance] = None
) -> Verdict:
    """Compare one measured metric with its stored baseline under a relative `tolerance`.

    Counts are exact (tolerance 0, no drift); informational metrics are compared, never judged.
    With an `allowance` (the metric's band learned from the run history, `history.bands.history_allowance`),
    a timing or value is judged by it instead: its value against the band around the history's mean.
    """
    judged_by_history = current.kind in ("timing", "duration", "value") and not current.informational
    if allowance is not None and current.value is not None and judged_by_history:
        return _judge_by_history(current, current.value, allowance)
    if not current.available:
        return Verdict(
            current.name,
            UNAVAILABLE,
            None,
            baseline.value if baseline else None,
            current.unit,
            tolerance,
            flags=current.flags,
            note=current.unavailable or "",
        )
    exact = current.kind == "count"
    tolerance = 0.0 if exact else tolerance
    status = INFO if current.informational else NEW
    new = Verdict(current.name, status, current.value, None, current.unit, tolerance, flags=current.flags)
    if baseline is None or baseline.value is None:
        return new
    if baseline.unit != current.unit or baseline.better != current.better:
        return dataclasses.replace(
            new,
            flags=new.flags + (UNIT_CHANGED if baseline.unit != current.unit else DIRECTION_CHANGED,),
            note=f"baseline was in {baseline.unit!r} ({baseline.better} is better): not comparable",
        )
    cur, ref = current.value, baseline.value
    assert cur is not None  # an available metric has a value
    # A zero baseline median has no ratio: such a metric is judged by its values (any change is beyond tolerance)
    sampled = (
        current.kind != "memory" and current.samples and baseline.samples and not current.informational and ref > 0
    )
    interval = ratio_of_medians_interval(baseline.samples, current.samples) if sampled else None
    compared = dataclasses.replace(
        new,
        baseline=ref,
        change=cur / ref - 1.0 if ref else None,
        interval=interval if interval is not None and all(map(math.isfinite, interval)) else None,
        drift=0.0 if exact else relative_spread(baseline.runs),
    )
    if current.informational:
        return compared
    spread = median_spread(current.samples) if sampled else 0.0
    if spread > tolerance + compared.drift:
        note = f"noisy: the 95% interval of the median spans {spread:.1%} of it, wider than the allowance"
        return dataclasses.replace(compared, status=NOISY, note=note)
    return dataclasses.replace(compared, status=classify(compared, current.kind, current.better, tolerance))


def _judge_by_history(current: Metric, value: float, allowance: Allowance) -> Verdict:
    reference = allowance.reference
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
        reference=allowance.reference_label,
    )


def classify(verdict: Verdict, kind: Kind, better: Better, tolerance: float) -> Status:
    """The status of a compared verdict's numbers under `tolerance` (its drift added), without resampling.

    Counts change with any difference in their stored digits; timings and values regress only
    when the whole interval of current/baseline lies beyond the allowance; memory when it grows
    beyond the tolerance plus MEMORY_SLACK_BYTES.
    """
    current, baseline = verdict.current, verdict.baseline
    assert current is not None and baseline is not None, "classify needs a compared verdict"
    if kind == "count":
        grew, shrank = rounded(current) > rounded(baseline), rounded(current) < rounded(baseline)
    elif kind == "memory":
        grew = current > baseline * (1 + tolerance) + MEMORY_SLACK_BYTES
        shrank = current < baseline * (1 - tolerance) - MEMORY_SLACK_BYTES
    else:
        low, high = verdict.interval or _point_ratio(current, baseline)
        allowed = tolerance + verdict.drift
        grew, shrank = low - 1.0 > allowed, 1.0 - high > allowed
    if not (grew or shrank):
        return UNCHANGED
    worse = grew if better == "lower" else shrank
    return REGRESSED if worse else IMPROVED


def _point_ratio(current: float, baseline: float) -> Tuple[float, float]:
    """current/baseline as an interval of one point; a zero baseline makes any non-zero value a change."""
    if baseline:
        return current / baseline, current / baseline
    ratio = 1.0 if current == 0 else float("inf") if current > 0 else float("-inf")
    return ratio, ratio


def beside_environment(verdict: Verdict, changes: Tuple[str, ...]) -> Verdict:
    """`verdict` flagged when its baseline was recorded under another environment (`changes`, such as
    `torch 2.11.0 -> 2.13.0`), and its note says what changed; its status kept (an upgrade is a change
    worth testing), but an exact host count that depends on what changed is not comparable: information."""
    if not changes or verdict.baseline is None:
        return verdict
    flagged = dataclasses.replace(verdict, flags=verdict.flags + (ENVIRONMENT_CHANGED,))
    decisive = host_count_not_comparable(verdict.metric, changes)
    if decisive:
        return dataclasses.replace(flagged, status=INFO, note=f"not comparable across {', '.join(decisive)}")
    said = f"environment changed: {', '.join(changes)}"
    return dataclasses.replace(flagged, note=f"{verdict.note}; {said}" if verdict.note else said)


def limit_violation(metric: Metric, limit: float) -> Optional[str]:
    """The failure text when `metric` breaks its absolute budget, else None."""
    if metric.value is None:
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


@dataclass(frozen=True)
class FailurePolicy:
    """Which verdicts fail their test: a regression always; an improvement beyond the tolerance with
    `fail_on_improvement` (the baseline is stale); a metric without a baseline when `strict`. In `refresh`
    mode no verdict fails (the run rewrites the baselines), only broken limits."""

    strict: bool = False
    fail_on_improvement: bool = False
    baseline_dir: str = ""
    """Where the baselines are looked for, named in the failure of a metric without one."""
    refresh: bool = False


def failure_messages(
    test: str,
    backend: str,
    verdicts: Sequence[Verdict],
    policy: FailurePolicy,
    metrics: Sequence[Metric] = (),
    limits: Optional[Mapping[str, Any]] = None,
) -> Tuple[str, ...]:
    """Why the test `test` on `backend` fails, if it does: each of its `limits` (limit texts by metric name,
    read in the metric's unit) that `metrics` break or cannot be checked against, then each verdict that
    `policy` fails."""
    failures = _limit_failures(metrics, limits or {})
    if not policy.refresh:
        failures += _verdict_failures(f"{test} (backend {backend})", verdicts, policy)
    return tuple(failures)


def _limit_failures(metrics: Sequence[Metric], limits: Mapping[str, Any]) -> List[str]:
    by_name = {m.name: m for m in metrics}
    failures = []
    for name, text in limits.items():
        metric = by_name.get(name)
        if metric is None:
            failures.append(
                f"limits name metric {name!r}, which this test did not record; recorded: {', '.join(sorted(by_name))}"
            )
            continue
        try:
            limit = parse_quantity(text, metric.unit)
        except QuantityError as error:
            failures.append(f"limit for {name!r}: {error}")
            continue
        message = limit_violation(metric, limit)
        if message:
            failures.append(message)
    return failures


def _verdict_failures(label: str, verdicts: Sequence[Verdict], policy: FailurePolicy) -> List[str]:
    failures = []
    for verdict in verdicts:
        if verdict.status == REGRESSED:
            failures.append(f"{label}: {verdict.describe()}")
        elif verdict.status == IMPROVED and policy.fail_on_improvement:
            failures.append(
                f"{label}: improved beyond its tolerance, the baseline is stale "
                f"(refresh it with `aotperf refresh`): {verdict.describe()}"
            )
        elif verdict.status == NEW and policy.strict:
            failures.append(
                f"{label}: no baseline for {verdict.metric} in {policy.baseline_dir} "
                "(--aot-strict); record one with `aotperf refresh`"
            )
    return failures
