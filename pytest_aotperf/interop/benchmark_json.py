"""aotperf's timings in pytest-benchmark's JSON format (--aot-benchmark-json), from a run's report.

`pytest-benchmark compare` and CI actions that read pytest-benchmark files read these. Every
metric in seconds becomes one benchmark: its statistics are computed by pytest-benchmark's own
`Stats` from our samples (a one-shot duration, such as compile_s, is a single round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from ..atomic import write_atomic
from ..results import RunReport
from ..schema import dumps

DEFAULT_METRIC = "latency"
"""The metric named by the test alone; other metrics are named `test:metric`."""
NOT_INSTALLED = "--aot-benchmark-json writes pytest-benchmark's format and needs it: pip install pytest-benchmark"


def benchmark_json(report: RunReport) -> Dict[str, Any]:
    """The content of a pytest-benchmark JSON file holding every timing of `report`."""
    try:
        from pytest_benchmark import __version__
        from pytest_benchmark.stats import Stats
    except ImportError:
        raise RuntimeError(NOT_INSTALLED) from None
    environment = report.environment
    benchmarks = []
    for test in report.tests:
        test_name = test.test.name
        param = test_name.partition("[")[2].rstrip("]") or None
        verdicts = {verdict.metric: verdict for verdict in test.verdicts}
        for metric in test.metrics:
            if metric.unit != "s" or metric.value is None:
                continue
            stats = Stats()
            for sample in metric.samples or (metric.value,):
                stats.update(sample)
            suffix = "" if metric.name == DEFAULT_METRIC else f":{metric.name}"
            verdict = verdicts.get(metric.name)
            benchmarks.append(
                {
                    "group": metric.name,
                    "name": test_name + suffix,
                    "fullname": test.test.nodeid + suffix,
                    "params": None,
                    "param": param,
                    "options": {"timer": "pytest-aotperf", "kind": metric.kind},
                    "extra_info": {
                        "backend": test.test.backend,
                        "metric": metric.name,
                        "verdict": verdict.status if verdict else None,
                        "baseline_s": verdict.baseline if verdict else None,
                        "tolerance": verdict.tolerance if verdict else None,
                    },
                    "stats": {**stats.as_dict(), "data": list(stats.data), "iterations": 1},
                }
            )
    return {
        "machine_info": {
            "node": report.machine,
            "machine": report.machine,
            "python_version": environment.get("python"),
            "cpu": {"brand_raw": environment.get("cpu")},
            "aotperf_environment": dict(environment),
        },
        "commit_info": {"id": environment.get("commit"), "project": "pytest-aotperf"},
        "benchmarks": benchmarks,
        "datetime": environment.get("time"),
        "version": __version__,
    }


def write_benchmark_json(path: Path, report: RunReport) -> None:
    write_atomic(Path(path), dumps(benchmark_json(report), indent=4, default=str) + "\n")
