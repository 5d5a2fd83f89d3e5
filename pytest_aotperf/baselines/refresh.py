"""What a refresh writes: a metric is rewritten only where it changed credibly, or when forced. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from ..metrics import Metric
from ..results import ADDED, KEPT, UPDATED, BaselineChange, PerfTestId
from ..verdict import IMPROVED, REGRESSED, Verdict, classify
from .entries import BaselineEntry

REFRESH_FRACTION = 0.5
"""A refresh rewrites a value that moved credibly beyond this fraction of its tolerance."""


@dataclass(frozen=True)
class RefreshRequest:
    """A measured test to store: its metrics with the verdicts already computed against the stored
    entry (which carry each metric's tolerance), and what the entry records besides."""

    test: PerfTestId
    metrics: Tuple[Metric, ...]
    verdicts: Mapping[str, Verdict]
    """By metric name: judged once, reused here."""
    environment: Mapping[str, Any]
    config: Mapping[str, Any]
    prior_runs: Mapping[str, Tuple[float, ...]] = field(default_factory=dict)
    """Values of earlier runs of this refresh (`--runs N`) by metric; their presence rewrites every metric."""


def refreshed_entry(
    old: Optional[BaselineEntry], request: RefreshRequest, force: bool
) -> Tuple[BaselineEntry, Dict[str, BaselineChange]]:
    """The entry to store for a test and, per metric, whether it was added, updated or kept."""
    stored = dict(old.metrics) if old else {}
    changes: Dict[str, BaselineChange] = {}
    for metric in request.metrics:
        previous = stored.get(metric.name)
        runs = request.prior_runs.get(metric.name, ())
        if previous is None or previous.value is None and metric.available:
            changes[metric.name] = ADDED
        elif force or runs or _differs(metric, previous, request.verdicts[metric.name]):
            changes[metric.name] = UPDATED
        else:
            changes[metric.name] = KEPT
            continue
        stored[metric.name] = metric.stored(runs + ((metric.value,) if metric.value is not None else ()))
    rewritten = any(change != KEPT for change in changes.values())
    if old is not None and not rewritten:
        return old, changes
    entry = BaselineEntry(
        metrics=dict(sorted(stored.items())),
        environment=request.environment if rewritten or old is None else old.environment,
        config=request.config,
    )
    return entry, changes


def _differs(metric: Metric, previous: Metric, verdict: Verdict) -> bool:
    """Whether `metric` moved credibly beyond REFRESH_FRACTION of its tolerance from `previous`."""
    if not metric.available:
        return previous.unavailable != metric.unavailable
    if verdict.baseline is None:
        return True  # not comparable (another unit or direction)
    status = classify(verdict, metric.kind, metric.better, verdict.tolerance * REFRESH_FRACTION)
    return status in (REGRESSED, IMPROVED)
