"""What a run produced: each measured test's metrics and verdicts, and the run as a whole (the JSON report).

The report's JSON is read back by `aotperf refresh --from-reports`, `report`, `compare` and the
history; reading validates it, so a hand-edited or old report is an error naming the file and the
JSON path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Literal, Mapping, Optional, Tuple

from .atomic import write_atomic
from .metrics import Metric
from .schema import SchemaError, dumps, loads, require_object, strings
from .schema import field as json_field
from .verdict import Verdict

REPORT_SCHEMA = "pytest-aotperf/report/1"

BaselineChange = Literal["added", "updated", "kept"]
"""What a refresh did to a stored metric: first recorded, rewritten, or left as it was."""
ADDED: BaselineChange = "added"
UPDATED: BaselineChange = "updated"
KEPT: BaselineChange = "kept"
BASELINE_CHANGES: Tuple[BaselineChange, ...] = (ADDED, UPDATED, KEPT)


class ReportError(ValueError):
    """A report file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class PerfTestId:
    """A measured test: where its baseline lives and under which key."""

    nodeid: str
    module: str
    """The test file relative to the rootdir."""
    name: str
    """The key within its baseline file: the nodeid after the module, e.g. `test_mlp[inductor-4]`."""
    backend: str

    @classmethod
    def of(cls, nodeid: str, backend: str) -> PerfTestId:
        module, _, name = nodeid.partition("::")
        return cls(nodeid=nodeid, module=module, name=name, backend=backend)


@dataclass(frozen=True)
class PerfTestResult:
    """A measured test's metrics and their verdicts, the failures they cause, and what a refresh stored."""

    test: PerfTestId
    metrics: Tuple[Metric, ...]
    verdicts: Tuple[Verdict, ...]
    failures: Tuple[str, ...]
    baseline_changes: Mapping[str, BaselineChange] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    def metric(self, name: str) -> Optional[Metric]:
        return next((m for m in self.metrics if m.name == name), None)

    def thinned(self) -> PerfTestResult:
        """The result with each metric's samples thinned as baselines keep them (`Metric.thinned`)."""
        return dataclasses.replace(self, metrics=tuple(metric.thinned() for metric in self.metrics))

    def to_json(self) -> Dict[str, Any]:
        return {
            "nodeid": self.test.nodeid,
            "module": self.test.module,
            "test": self.test.name,
            "backend": self.test.backend,
            "passed": not self.failures,
            "failures": list(self.failures),
            "metrics": {m.name: m.to_json() for m in self.metrics},
            "verdicts": {v.metric: v.to_json() for v in self.verdicts},
            "baseline_changes": dict(self.baseline_changes),
            "config": dict(self.config),
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> PerfTestResult:
        data = require_object(data, where)
        metrics = json_field(data, "metrics", dict, where)
        verdicts = json_field(data, "verdicts", dict, where)
        changes: Dict[str, BaselineChange] = {}
        for name, change in json_field(data, "baseline_changes", dict, where, {}).items():
            if change not in BASELINE_CHANGES:
                raise SchemaError(f"{where}.baseline_changes.{name}: {change!r} is not one of {BASELINE_CHANGES}")
            changes[name] = change
        return cls(
            test=PerfTestId(
                nodeid=json_field(data, "nodeid", str, where),
                module=json_field(data, "module", str, where),
                name=json_field(data, "test", str, where),
                backend=json_field(data, "backend", str, where),
            ),
            metrics=tuple(Metric.from_json(n, m, f"{where}.metrics.{n}") for n, m in metrics.items()),
            verdicts=tuple(Verdict.from_json(n, v, f"{where}.verdicts.{n}") for n, v in verdicts.items()),
            failures=strings(data, "failures", where),
            baseline_changes=changes,
            config=json_field(data, "config", dict, where, {}),
        )


@dataclass(frozen=True)
class RunReport:
    """A whole run: the machine and environment, the settings, the baselines written and every test."""

    machine: str
    environment: Mapping[str, Any]
    settings: Mapping[str, str]
    baselines_written: Tuple[str, ...]
    tests: Tuple[PerfTestResult, ...]
    comparison: Optional[Mapping[str, Any]] = None
    """Set when the verdicts judge one tree against another (`aotperf ab`), not against stored baselines;
    its `description` says what was compared."""

    def to_json(self) -> Dict[str, Any]:
        data = {
            "schema": REPORT_SCHEMA,
            "machine": self.machine,
            "environment": dict(self.environment),
            "settings": dict(self.settings),
            "baselines_written": list(self.baselines_written),
            "tests": [test.to_json() for test in self.tests],
        }
        if self.comparison is not None:
            data["comparison"] = dict(self.comparison)
        return data

    @property
    def comparison_description(self) -> Optional[str]:
        return str(self.comparison["description"]) if self.comparison is not None else None

    @classmethod
    def from_json(cls, data: Any, where: str = "report") -> RunReport:
        data = require_object(data, where)
        if data.get("schema") != REPORT_SCHEMA:
            raise SchemaError(f"{where}: not a pytest-aotperf report (expected schema {REPORT_SCHEMA!r})")
        tests = json_field(data, "tests", list, where)
        comparison = json_field(data, "comparison", dict, where, None)
        if comparison is not None:
            json_field(comparison, "description", str, f"{where}.comparison")
        return cls(
            machine=json_field(data, "machine", str, where),
            environment=json_field(data, "environment", dict, where),
            settings=json_field(data, "settings", dict, where, {}),
            baselines_written=strings(data, "baselines_written", where),
            tests=tuple(PerfTestResult.from_json(t, f"{where}.tests[{i}]") for i, t in enumerate(tests)),
            comparison=comparison,
        )


def write_report(path: Path, report: RunReport) -> None:
    write_atomic(path, dumps(report.to_json(), indent=2, sort_keys=True, default=str) + "\n")


def load_report(path: Path) -> RunReport:
    """A report written by --aot-report; errors name the file and the JSON path."""
    try:
        data = loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise ReportError(f"{path}: cannot read the report: {error}") from None
    try:
        return RunReport.from_json(data)
    except SchemaError as error:
        raise ReportError(f"{path}: {error}") from None


def run_values(reports: Iterable[RunReport]) -> Dict[str, Dict[str, Tuple[float, ...]]]:
    """Per test nodeid, each metric's value in each report, in order: the runs of `aotperf refresh --runs N`."""
    values: Dict[str, Dict[str, Tuple[float, ...]]] = {}
    for report in reports:
        for test in report.tests:
            runs = values.setdefault(test.test.nodeid, {})
            for metric in test.metrics:
                if metric.value is not None:
                    runs[metric.name] = runs.get(metric.name, ()) + (metric.value,)
    return values
