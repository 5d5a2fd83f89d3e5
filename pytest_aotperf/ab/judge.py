"""Head against base: each metric's rounds pooled per tree, and head judged against base by the verdict rules. Pure.

Base's pooled samples stand as the baseline and its per-round values as the baseline's runs, so the
verdict is the usual one (tolerance, bootstrap interval of the ratio of medians) plus the round-to-round
spread of base. Host-speed timings follow the session's rule: judged by the band of base's rounds once
there are HOST_MIN_RUNS of them, information before; by the tolerance with `host_timings=tolerance`; only
shown with `info`.
One-shot durations (compile, capture and build times) are taken from each tree's first round that measured
them alone: it compiles cold, and later rounds reuse that tree's compile caches. One run is no band, so
under the spread rule they stay information however many rounds.
"""

from __future__ import annotations

import dataclasses
from statistics import median
from typing import Dict, List, Optional, Sequence

from ..host_speed import (
    HOST_MIN_RUNS,
    HOST_RULES,
    INFORMATION,
    SPREAD,
    TOLERANCE,
    HostRule,
    judge_host_timing,
    judged_by_spread,
)
from ..metrics import Metric
from ..results import PerfTestResult, RunReport
from ..verdict import FailurePolicy, Verdict, failure_messages, judge

HEAD_AGAINST_BASE = FailurePolicy()
"""Head fails on its regressions against base alone: base is no stored baseline to be stale or missing."""


@dataclasses.dataclass(frozen=True)
class Side:
    """One tree of the comparison: its commit and the reports (--aot-report) of its rounds, in order."""

    label: str
    commit: str
    reports: Sequence[RunReport]


def pool(rounds: Sequence[Metric]) -> Metric:
    """One metric from its rounds: all samples together (the value their median), else the median of the values."""
    available = [m for m in rounds if m.available]
    if not available:
        return rounds[0]
    first = available[0]
    flags = tuple(sorted({flag for m in available for flag in m.flags}))
    samples = [s for m in available for s in m.samples]
    if samples:
        return Metric.from_samples(
            first.name,
            samples,
            first.unit,
            first.better,
            first.kind,
            flags,
            informational=first.informational,
            host_speed=first.host_speed,
        )
    values = [m.value for m in available if m.value is not None]
    return dataclasses.replace(first, value=median(values), flags=flags, context=())


def judge_rounds(
    base: Sequence[Metric], head: Sequence[Metric], tolerance: float, host_rule: HostRule = SPREAD
) -> Verdict:
    """Head's pooled rounds against base's pooled rounds (new when base did not measure the metric)."""
    stored = None
    if base:
        pooled = pool(base)
        runs = tuple(m.value for m in base if m.value is not None)
        stored = pooled.stored(runs) if pooled.available else None
    head_pooled = pool(head)
    if judged_by_spread(head_pooled):
        return judge_host_timing(host_rule, head_pooled, stored, tolerance)
    return judge(head_pooled, stored, tolerance)


def ab_report(base: Side, head: Side, ref: str) -> RunReport:
    """A report whose verdicts are head against base, marked as an A/B comparison."""
    rounds = len(head.reports)
    last = head.reports[-1]
    said = last.settings.get("host_timings")
    host_rule = next((rule for rule in HOST_RULES if rule == said), SPREAD)
    tests = tuple(_judged_test(nodeid, base.reports, head.reports, host_rule) for nodeid in _nodeids(head.reports))
    missing = sorted(set(_nodeids(base.reports)) - set(_nodeids(head.reports)))
    return RunReport(
        machine=last.machine,
        environment=dict(last.environment, commit=head.commit),
        settings=dict(last.settings),
        baselines_written=(),
        tests=tests,
        comparison={
            "kind": "ab",
            "base": {"ref": ref, "commit": base.commit},
            "head": {"commit": head.commit},
            "rounds": rounds,
            "round_values": {
                nodeid: _round_values(nodeid, base.reports, head.reports) for nodeid in _nodeids(head.reports)
            },
            "only_in_base": missing,
            "description": (
                f"A/B comparison on one machine: head {head.commit[:12]} against base {base.commit[:12]} ({ref}), "
                f"{rounds} alternating round(s) of each; the baseline column is base, no stored baseline was used. "
                + _host_rule_said(host_rule, rounds)
                + " Compile, capture and build times are each tree's first round only (a cold compile); "
                "later rounds reuse that tree's compile caches."
            ),
        },
    )


def _host_rule_said(host_rule: HostRule, rounds: int) -> str:
    if host_rule == TOLERANCE:
        return "Host-speed timings were judged by their tolerance."
    if host_rule == INFORMATION:
        return "Host-speed timings (host-bound latency, compile and build times) are shown as information (info)."
    if rounds < HOST_MIN_RUNS:
        return (
            f"Host-speed timings (host-bound latency, compile and build times) are shown as information: "
            f"their spread is judged from {HOST_MIN_RUNS} rounds."
        )
    return (
        "Host-bound latencies were judged by the band of base's rounds; compile, capture and build times "
        "(one cold round a tree) are shown as information."
    )


def _nodeids(reports: Sequence[RunReport]) -> List[str]:
    """Every test node id of the reports, in first-seen order."""
    return list(dict.fromkeys(test.test.nodeid for report in reports for test in report.tests))


def _rounds_of(reports: Sequence[RunReport], nodeid: str) -> List[PerfTestResult]:
    return [test for report in reports for test in report.tests if test.test.nodeid == nodeid]


def _round_values(
    nodeid: str, base_reports: Sequence[RunReport], head_reports: Sequence[RunReport]
) -> Dict[str, Dict[str, List[Optional[float]]]]:
    """Each measured metric's value per round and tree: whether a tree's rounds agree with each other
    (process-to-process noise) or all moved together (a change) is what the pooled value hides."""
    values: Dict[str, Dict[str, List[Optional[float]]]] = {}
    for side, reports in (("base", base_reports), ("head", head_reports)):
        for test in _rounds_of(reports, nodeid):
            for metric in test.metrics:
                if metric.value is not None:
                    values.setdefault(metric.name, {"base": [], "head": []})[side].append(metric.value)
    return values


def _judged_test(
    nodeid: str, base_reports: Sequence[RunReport], head_reports: Sequence[RunReport], host_rule: HostRule
) -> PerfTestResult:
    head_rounds, base_rounds = _rounds_of(head_reports, nodeid), _rounds_of(base_reports, nodeid)
    latest = head_rounds[-1]
    names = list(dict.fromkeys(metric.name for test in head_rounds for metric in test.metrics))
    verdicts: List[Verdict] = []
    metrics: List[Metric] = []
    for name in names:
        head = [m for t in head_rounds if (m := t.metric(name)) is not None]
        base = [m for t in base_rounds if (m := t.metric(name)) is not None]
        if head[0].kind == "duration":
            head, base = head[:1], base[:1]
        verdicts.append(judge_rounds(base, head, _tolerance(head_rounds, name), host_rule))
        metrics.append(pool(head))
    failures = failure_messages(latest.test.name, latest.test.backend, verdicts, HEAD_AGAINST_BASE)
    return PerfTestResult(latest.test, tuple(metrics), tuple(verdicts), failures, config=latest.config)


def _tolerance(rounds: Sequence[PerfTestResult], name: str) -> float:
    """The tolerance head's own run gave the metric (its marker and options)."""
    tolerance: Optional[float] = next(
        (v.tolerance for t in reversed(rounds) for v in t.verdicts if v.metric == name), None
    )
    if tolerance is None:
        raise ValueError(f"{rounds[-1].test.nodeid}: the report has no verdict (tolerance) for metric {name!r}")
    return tolerance
