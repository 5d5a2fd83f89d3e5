"""Baselines from reports taken elsewhere: `aotperf refresh --from-reports REPORT...` (a GPU runner's artifacts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Tuple

from ..environment_change import environment_changes
from ..metrics import Metric
from ..results import BaselineChange, PerfTestResult, ReportError, RunReport, run_values
from ..verdict import judge
from .refresh import RefreshRequest
from .store import BaselineStore


@dataclass(frozen=True)
class NamedReport:
    """A report and the file it was read from, which errors name."""

    name: str
    report: RunReport


@dataclass(frozen=True)
class ReportsRefresh:
    """What `refresh_from_reports` did: the files written, per (test, backend) what happened to each metric,
    and how the reports' environment differs from the stored baselines' (`vllm 0.26.0 -> None`)."""

    written: List[Path]
    changes: Dict[Tuple[str, str], Dict[str, BaselineChange]]
    environment_changes: Tuple[str, ...]


def refresh_from_reports(reports: Sequence[NamedReport], root: Path, force: bool) -> ReportsRefresh:
    """Store each test's result from the last report that holds it, its earlier reports' values as earlier runs.

    Several runs of one suite are stored as `refresh --runs` stores them; reports of different backends
    or suites (one per nightly process) each keep their own tests. A ReportError, naming the report, stops it
    where the runs of one test come from two environments (torch, vLLM, Python, driver, GPU), where a report
    is an `aotperf ab` comparison, or where a metric has no verdict to take its tolerance from (each metric
    is judged once against the baseline stored here, under the tolerance its verdict had in that run).
    """
    held: Dict[str, List[Tuple[NamedReport, PerfTestResult]]] = {}
    for named in reports:
        if named.report.comparison is not None:
            raise ReportError(
                f"{named.name}: an `aotperf ab` report (head judged against base), not a run judged against "
                "baselines: record from the reports of runs (--aot-report)"
            )
        for result in named.report.tests:
            held.setdefault(result.test.nodeid, []).append((named, result))
    stores: Dict[str, BaselineStore] = {}
    changes: Dict[Tuple[str, str], Dict[str, BaselineChange]] = {}
    changed_environment: Dict[str, None] = {}
    for nodeid, runs in held.items():
        *earlier_runs, (named, result) = runs
        earlier = [other for other, _ in earlier_runs]
        _check_one_environment(nodeid, earlier, named)
        store = stores.setdefault(named.report.machine, BaselineStore(root, named.report.machine))
        entry = store.entry(result.test.backend, result.test.module, result.test.name)
        if entry is not None:
            changed_environment.update(dict.fromkeys(environment_changes(entry.environment, named.report.environment)))
        prior = run_values(other.report for other in earlier).get(nodeid, {})
        request = _request(result, named.report, prior, entry.metrics if entry else {})
        changes[(result.test.name, result.test.backend)] = store.refresh(request, force)
    written = [path for store in stores.values() for path in store.write()]
    return ReportsRefresh(written, changes, tuple(changed_environment))


def _check_one_environment(nodeid: str, earlier: Sequence[NamedReport], last: NamedReport) -> None:
    for other in earlier:
        differences = environment_changes(other.report.environment, last.report.environment)
        if differences:
            raise ReportError(
                f"{nodeid}: {other.name} and {last.name} were recorded in different environments "
                f"({', '.join(differences)}); the runs of one baseline must share one"
            )


def _request(
    result: PerfTestResult, report: RunReport, prior: Dict[str, Tuple[float, ...]], stored: Mapping[str, Metric]
) -> RefreshRequest:
    test = result.test
    tolerances = {verdict.metric: verdict.tolerance for verdict in result.verdicts}
    unjudged = sorted(metric.name for metric in result.metrics if metric.name not in tolerances)
    if unjudged:
        raise ReportError(
            f"{test.nodeid} (backend {test.backend}): no verdict for {', '.join(unjudged)} in the report, "
            "so the tolerance to refresh under is unknown"
        )
    verdicts = {
        metric.name: judge(metric, stored.get(metric.name), tolerances[metric.name]) for metric in result.metrics
    }
    return RefreshRequest(test, result.metrics, verdicts, report.environment, result.config, prior)
