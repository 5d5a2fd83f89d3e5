"""Head against base: each metric's rounds pooled per tree, and head judged against base by the verdict rules. Pure.

Base's pooled samples stand as the baseline and its per-round values as the baseline's runs, so the
verdict is the usual one (tolerance, bootstrap interval of the ratio of medians) plus the round-to-round
spread of base.
"""

from __future__ import annotations

import dataclasses
from statistics import median
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..baselines.entries import StoredMetric
from ..compare import REGRESSED, Verdict, judge
from ..reporting.json_report import REPORT_SCHEMA, metric_from_json, metric_json, verdict_json
from ..results import Metric

Report = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Side:
    """One tree of the comparison: its commit and the reports (--aot-report) of its rounds, in order."""

    label: str
    commit: str
    reports: Sequence[Report]


def pool(rounds: Sequence[Metric]) -> Metric:
    """One metric from its rounds: all samples together (the value their median), else the median of the values."""
    available = [m for m in rounds if m.available]
    if not available:
        return rounds[0]
    first = available[0]
    flags = tuple(sorted({flag for m in available for flag in m.flags}))
    samples = [s for m in available for s in m.samples]
    if samples:
        return Metric.from_samples(first.name, samples, first.unit, first.better, first.kind, flags)
    values = [m.value for m in available if m.value is not None]
    return dataclasses.replace(first, value=median(values), flags=flags, context=())


def judge_rounds(base: Sequence[Metric], head: Sequence[Metric], tolerance: float) -> Verdict:
    """Head's pooled rounds against base's pooled rounds (new when base did not measure the metric)."""
    stored = None
    if base:
        pooled = pool(base)
        runs = tuple(m.value for m in base if m.value is not None)
        stored = StoredMetric.from_metric(pooled, runs=runs) if pooled.available else None
    return judge(pool(head), stored, tolerance)


def ab_report(base: Side, head: Side, ref: str) -> Dict[str, Any]:
    """A report of the usual schema whose verdicts are head against base, marked as an A/B comparison."""
    rounds = len(head.reports)
    last = head.reports[-1]
    tests = [_test_json(nodeid, base.reports, head.reports) for nodeid in _nodeids(head.reports)]
    missing = sorted(set(_nodeids(base.reports)) - set(_nodeids(head.reports)))
    return {
        "schema": REPORT_SCHEMA,
        "machine": last["machine"],
        "environment": dict(last["environment"], commit=head.commit),
        "settings": dict(last["settings"]),
        "baselines_written": [],
        "tests": tests,
        "comparison": {
            "kind": "ab",
            "base": {"ref": ref, "commit": base.commit},
            "head": {"commit": head.commit},
            "rounds": rounds,
            "only_in_base": missing,
            "description": (
                f"A/B comparison on one machine: head {head.commit[:12]} against base {base.commit[:12]} ({ref}), "
                f"{rounds} alternating round(s) of each; the baseline column is base, no stored baseline was used."
            ),
        },
    }


def _nodeids(reports: Sequence[Report]) -> List[str]:
    """Every test node id of the reports, in first-seen order."""
    return list(dict.fromkeys(test["nodeid"] for report in reports for test in report["tests"]))


def _rounds_of(reports: Sequence[Report], nodeid: str) -> List[Mapping[str, Any]]:
    return [test for report in reports for test in report["tests"] if test["nodeid"] == nodeid]


def _test_json(nodeid: str, base_reports: Sequence[Report], head_reports: Sequence[Report]) -> Dict[str, Any]:
    head_rounds, base_rounds = _rounds_of(head_reports, nodeid), _rounds_of(base_reports, nodeid)
    latest = head_rounds[-1]
    names = list(dict.fromkeys(name for test in head_rounds for name in test["metrics"]))
    verdicts, metrics = {}, {}
    for name in names:
        head = [metric_from_json(name, t["metrics"][name]) for t in head_rounds if name in t["metrics"]]
        base = [metric_from_json(name, t["metrics"][name]) for t in base_rounds if name in t["metrics"]]
        verdict = judge_rounds(base, head, _tolerance(head_rounds, name))
        verdicts[name], metrics[name] = verdict_json(verdict), metric_json(pool(head))
    label = f"{latest['test']} (backend {latest['backend']})"
    failures = [f"{label}: {v['message']}" for v in verdicts.values() if v["status"] == REGRESSED]
    return {
        "nodeid": nodeid,
        "module": latest["module"],
        "test": latest["test"],
        "backend": latest["backend"],
        "passed": not failures,
        "failures": failures,
        "metrics": metrics,
        "verdicts": verdicts,
        "baseline_changes": {},
        "config": latest.get("config", {}),
    }


def _tolerance(rounds: Sequence[Mapping[str, Any]], name: str) -> float:
    """The tolerance head's own run gave the metric (its marker and options)."""
    tolerance: Optional[float] = next(
        (t["verdicts"][name]["tolerance"] for t in reversed(rounds) if name in t["verdicts"]), None
    )
    if tolerance is None:
        raise ValueError(f"{rounds[-1]['nodeid']}: the report has no verdict (tolerance) for metric {name!r}")
    return float(tolerance)
