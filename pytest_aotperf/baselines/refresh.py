"""What a refresh writes: a metric is rewritten only where it changed credibly, or when forced. Pure."""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from ..compare import IMPROVED, REGRESSED, judge
from ..results import Metric
from .entries import BaselineEntry, StoredMetric

NEW, UPDATED, KEPT = "new", "updated", "kept"
REFRESH_FRACTION = 0.5
"""A refresh rewrites a value that moved credibly beyond this fraction of its tolerance."""


def refreshed_entry(
    old: Optional[BaselineEntry],
    metrics: Sequence[Metric],
    environment: Mapping[str, Any],
    config: Mapping[str, Any],
    tolerance_of: Callable[[Metric], float],
    force: bool,
    prior_runs: Mapping[str, Tuple[float, ...]] = {},
) -> Tuple[BaselineEntry, Dict[str, str]]:
    """The entry to store for a test and, per metric, whether it is new, updated or kept.

    `prior_runs` holds the values of earlier runs of this refresh (`--runs N`) by metric; their
    presence means every metric is rewritten with all runs recorded.
    """
    stored = dict(old.metrics) if old else {}
    changes: Dict[str, str] = {}
    for metric in metrics:
        previous = stored.get(metric.name)
        runs = prior_runs.get(metric.name, ())
        if previous is None or previous.value is None and metric.available:
            changes[metric.name] = NEW
        elif force or runs or _differs(metric, previous, tolerance_of(metric)):
            changes[metric.name] = UPDATED
        else:
            changes[metric.name] = KEPT
            continue
        current_runs = runs + ((metric.value,) if metric.value is not None else ())
        stored[metric.name] = StoredMetric.from_metric(metric, current_runs)
    rewritten = any(change != KEPT for change in changes.values())
    if old is not None and not rewritten:
        return old, changes
    entry = BaselineEntry(
        metrics=dict(sorted(stored.items())),
        environment=environment if rewritten or old is None else old.environment,
        config=config,
    )
    return entry, changes


def _differs(metric: Metric, previous: StoredMetric, tolerance: float) -> bool:
    if not metric.available:
        return previous.unavailable != metric.unavailable
    verdict = judge(metric, previous, tolerance * REFRESH_FRACTION)
    return verdict.status in (REGRESSED, IMPROVED) or verdict.baseline is None
