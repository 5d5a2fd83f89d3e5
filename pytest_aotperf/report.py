"""What a run tells people: the terminal table and the JSON report."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

from .baselines.storage import write_atomic
from .compare import Verdict
from .results import Metric
from .session import TestResult
from .units import format_quantity

REPORT_SCHEMA = "pytest-aotperf/report/1"
TABLE_HEADER = ("test", "backend", "metric", "baseline", "current", "change", "verdict")


def metric_json(metric: Metric) -> Dict[str, Any]:
    data: Dict[str, Any] = {"unit": metric.unit, "better": metric.better, "kind": metric.kind}
    if not metric.available:
        data["unavailable"] = metric.unavailable
        return data
    data["value"] = metric.value
    if metric.summary is not None:
        data["summary"] = vars(metric.summary).copy()
        data["samples"] = list(metric.samples)
    if metric.flags:
        data["flags"] = list(metric.flags)
    if metric.context:
        data["context"] = dict(metric.context)
    return data


def verdict_json(verdict: Verdict) -> Dict[str, Any]:
    data = {key: value for key, value in vars(verdict).items() if value not in (None, "", ())}
    data["message"] = verdict.describe()
    return data


def result_json(result: TestResult) -> Dict[str, Any]:
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


def report_json(results: Sequence[TestResult], environment: Mapping[str, Any], machine: str,
                settings: Mapping[str, Any], written: Sequence[Path]) -> Dict[str, Any]:
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


def run_values(reports: Iterable[Mapping[str, Any]]) -> Dict[Tuple[str, str], Tuple[float, ...]]:
    """Each (nodeid, metric)'s value in each report, in order: the runs of `aotperf refresh --runs N`."""
    values: Dict[Tuple[str, str], Tuple[float, ...]] = {}
    for report in reports:
        for test in report["tests"]:
            for name, metric in test["metrics"].items():
                if metric.get("value") is not None:
                    key = (test["nodeid"], name)
                    values[key] = values.get(key, ()) + (float(metric["value"]),)
    return values


def change_text(verdict: Verdict) -> str:
    return f"{verdict.change:+.1%}" if verdict.change is not None else ""


def table_rows(results: Sequence[TestResult]) -> List[Tuple[str, ...]]:
    rows = []
    for result in results:
        for verdict in result.verdicts:
            if verdict.current is None:
                continue
            status = verdict.status + (f" ({', '.join(verdict.flags)})" if verdict.flags else "")
            rows.append((
                result.test.name, result.test.backend, verdict.metric,
                format_quantity(verdict.baseline, verdict.unit) if verdict.baseline is not None else "-",
                format_quantity(verdict.current, verdict.unit) if verdict.current is not None else "unavailable",
                change_text(verdict), status,
            ))
    return rows


def unavailable_lines(results: Sequence[TestResult]) -> List[str]:
    """One line per metric this machine could not measure, with the reason (not one per test)."""
    reasons: Dict[str, str] = {}
    for result in results:
        for metric in result.metrics:
            if not metric.available:
                reasons.setdefault(metric.name, metric.unavailable or "")
    return [f"unavailable: {name}: {reason}" for name, reason in sorted(reasons.items())]


def render_table(rows: Sequence[Tuple[str, ...]], header: Tuple[str, ...] = TABLE_HEADER) -> List[str]:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]
