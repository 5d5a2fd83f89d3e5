"""Baselines from reports taken elsewhere: `aotperf refresh --from-reports REPORT...` (a GPU runner's artifacts)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ..results import BaselineChange, ReportError, RunReport, run_values
from ..verdict import judge
from .refresh import RefreshRequest
from .store import BaselineStore


def refresh_from_reports(
    reports: Sequence[RunReport], root: Path, force: bool
) -> Tuple[List[Path], Dict[Tuple[str, str], Dict[str, BaselineChange]]]:
    """Store the last report's tests, with the earlier reports as earlier runs (as `refresh --runs` does).

    Each metric is judged once against the baseline stored here, under the tolerance its verdict
    had in that run (a metric without one is a ReportError). Returns the files written and, per (test,
    backend), what happened to each metric.
    """
    *earlier, last = reports
    prior = run_values(earlier)
    store = BaselineStore(root, last.machine)
    changes: Dict[Tuple[str, str], Dict[str, BaselineChange]] = {}
    for result in last.tests:
        test = result.test
        entry = store.entry(test.backend, test.module, test.name)
        tolerances = {verdict.metric: verdict.tolerance for verdict in result.verdicts}
        unjudged = sorted(metric.name for metric in result.metrics if metric.name not in tolerances)
        if unjudged:
            raise ReportError(
                f"{test.nodeid} (backend {test.backend}): no verdict for {', '.join(unjudged)} in the report, "
                "so the tolerance to refresh under is unknown"
            )
        verdicts = {
            metric.name: judge(metric, entry.metrics.get(metric.name) if entry else None, tolerances[metric.name])
            for metric in result.metrics
        }
        request = RefreshRequest(
            test, result.metrics, verdicts, last.environment, result.config, prior.get(test.nodeid, {})
        )
        changes[(test.name, test.backend)] = store.refresh(request, force)
    return store.write(), changes
