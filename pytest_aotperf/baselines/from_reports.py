"""Baselines from reports taken elsewhere: `aotperf refresh --from-reports REPORT...` (a GPU runner's artifacts)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ..results import BaselineChange, PerfTestResult, ReportError, RunReport, run_values
from ..verdict import judge
from .refresh import RefreshRequest
from .store import BaselineStore


def refresh_from_reports(
    reports: Sequence[RunReport], root: Path, force: bool
) -> Tuple[List[Path], Dict[Tuple[str, str], Dict[str, BaselineChange]]]:
    """Store each test's result from the last report that holds it, its earlier reports' values as earlier runs.

    Several runs of one suite are stored as `refresh --runs` stores them; reports of different backends
    or suites (one per nightly process) each keep their own tests. Each metric is judged once against the
    baseline stored here, under the tolerance its verdict had in that run (a metric without one is a
    ReportError). Returns the files written and, per (test, backend), what happened to each metric.
    """
    latest: Dict[str, Tuple[int, PerfTestResult]] = {}
    for index, report in enumerate(reports):
        for result in report.tests:
            latest[result.test.nodeid] = (index, result)
    stores: Dict[str, BaselineStore] = {}
    changes: Dict[Tuple[str, str], Dict[str, BaselineChange]] = {}
    for nodeid, (index, result) in latest.items():
        report = reports[index]
        store = stores.setdefault(report.machine, BaselineStore(root, report.machine))
        prior = run_values(reports[:index]).get(nodeid, {})
        changes[(result.test.name, result.test.backend)] = store.refresh(
            _request(store, result, report, prior), force
        )
    return [path for store in stores.values() for path in store.write()], changes


def _request(
    store: BaselineStore, result: PerfTestResult, report: RunReport, prior: Dict[str, Tuple[float, ...]]
) -> RefreshRequest:
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
    return RefreshRequest(test, result.metrics, verdicts, report.environment, result.config, prior)
