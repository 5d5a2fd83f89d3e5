"""aotperf's timings in pytest-benchmark's JSON format (--aot-benchmark-json), from a JSON report.

`pytest-benchmark compare` and CI actions that read pytest-benchmark files read these. Every
metric in seconds becomes one benchmark: its statistics are computed by pytest-benchmark's own
`Stats` from our samples (a one-shot duration, such as compile_s, is a single round).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Mapping

from ..atomic import write_atomic

DEFAULT_METRIC = "latency"
"""The metric named by the test alone; other metrics are named `test:metric`."""
NOT_INSTALLED = "--aot-benchmark-json writes pytest-benchmark's format and needs it: pip install pytest-benchmark"


def benchmark_json(report: Mapping[str, Any]) -> Dict[str, Any]:
    """The content of a pytest-benchmark JSON file holding every timing of `report`."""
    try:
        from pytest_benchmark import __version__
        from pytest_benchmark.stats import Stats
    except ImportError:
        raise RuntimeError(NOT_INSTALLED) from None
    environment = report["environment"]
    benchmarks = []
    for test in report["tests"]:
        param = test["test"].partition("[")[2].rstrip("]") or None
        for name, metric in test["metrics"].items():
            if metric.get("unit") != "s" or metric.get("value") is None:
                continue
            stats = Stats()
            for sample in metric.get("samples") or (metric["value"],):
                stats.update(sample)
            suffix = "" if name == DEFAULT_METRIC else f":{name}"
            verdict = test["verdicts"].get(name, {})
            benchmarks.append(
                {
                    "group": name,
                    "name": test["test"] + suffix,
                    "fullname": test["nodeid"] + suffix,
                    "params": None,
                    "param": param,
                    "options": {"timer": "pytest-aotperf", "kind": metric["kind"]},
                    "extra_info": {
                        "backend": test["backend"],
                        "metric": name,
                        "verdict": verdict.get("status"),
                        "baseline_s": verdict.get("baseline"),
                        "tolerance": verdict.get("tolerance"),
                    },
                    "stats": {**stats.as_dict(), "data": list(stats.data), "iterations": 1},
                }
            )
    return {
        "machine_info": {
            "node": report["machine"],
            "machine": report["machine"],
            "python_version": environment.get("python"),
            "cpu": {"brand_raw": environment.get("cpu")},
            "aotperf_environment": dict(environment),
        },
        "commit_info": {"id": environment.get("commit"), "project": "pytest-aotperf"},
        "benchmarks": benchmarks,
        "datetime": environment.get("time"),
        "version": __version__,
    }


def write_benchmark_json(path: Path, report: Mapping[str, Any]) -> None:
    write_atomic(Path(path), json.dumps(benchmark_json(report), indent=4, default=str) + "\n")
