"""The JSON report of a run (--aot-report): every metric, its statistics, baseline and verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Sequence, Tuple

from ..baselines.storage import write_atomic
from ..compare import Verdict
from ..measure.stats import summarize
from ..results import Metric, measurement_json
from ..session import PerfTestResult

REPORT_SCHEMA = "pytest-aotperf/report/1"


def metric_json(metric: Metric) -> Dict[str, Any]:
    data = measurement_json(metric)
    if metric.available and metric.context:
        data["context"] = dict(metric.context)
    return data


def metric_from_json(name: str, data: Mapping[str, Any]) -> Metric:
    """The Metric a report holds (the inverse of metric_json)."""
    samples = tuple(data.get("samples", ()))
    return Metric(
        name=name,
        unit=data["unit"],
        better=data["better"],
        kind=data["kind"],
        value=data.get("value"),
        samples=samples,
        summary=summarize(samples) if samples else None,
        unavailable=data.get("unavailable"),
        flags=tuple(data.get("flags", ())),
        context=tuple(sorted(data.get("context", {}).items())),
    )


def verdict_json(verdict: Verdict) -> Dict[str, Any]:
    data = {key: value for key, value in vars(verdict).items() if value not in (None, "", ())}
    data["message"] = verdict.describe()
    return data


def result_json(result: PerfTestResult) -> Dict[str, Any]:
    return {
        "nodeid": result.test.nodeid,
        "module": result.test.module,
        "test": result.test.name,
        "backend": result.test.backend,
        "passed": not result.failures,
        "failures": list(result.failures),
        "metrics": {m.name: metric_json(m) for m in result.metrics},
        "verdicts": {v.metric: verdict_json(v) for v in result.verdicts},
        "baseline_changes": dict(result.baseline_changes),
        "config": dict(result.config),
    }


def report_json(
    results: Sequence[PerfTestResult],
    environment: Mapping[str, Any],
    machine: str,
    settings: Mapping[str, Any],
    written: Sequence[Path],
) -> Dict[str, Any]:
    return {
        "schema": REPORT_SCHEMA,
        "machine": machine,
        "environment": dict(environment),
        "settings": dict(settings),
        "baselines_written": [str(p) for p in written],
        "tests": [result_json(r) for r in results],
    }


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    write_atomic(path, json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")


def load_report(path: Path) -> Dict[str, Any]:
    """A report written by --aot-report; errors name the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read the report: {error}") from None
    if not isinstance(data, dict) or data.get("schema") != REPORT_SCHEMA:
        raise ValueError(f"{path}: not a pytest-aotperf report (expected schema {REPORT_SCHEMA!r})")
    return data


def run_values(reports: Iterable[Mapping[str, Any]]) -> Dict[str, Dict[str, Tuple[float, ...]]]:
    """Per test nodeid, each metric's value in each report, in order: the runs of `aotperf refresh --runs N`."""
    values: Dict[str, Dict[str, Tuple[float, ...]]] = {}
    for report in reports:
        for test in report["tests"]:
            runs = values.setdefault(test["nodeid"], {})
            for name, metric in test["metrics"].items():
                if metric.get("value") is not None:
                    runs[name] = runs.get(name, ()) + (float(metric["value"]),)
    return values
