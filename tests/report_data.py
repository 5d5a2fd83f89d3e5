"""Reports built in memory for the renderers' tests: a test per backend, each metric with its status."""

from pytest_aotperf.results import RunReport


def metric(value, unit="s", better="lower", samples=()):
    data = {"unit": unit, "better": better, "kind": "timing", "value": value}
    return {**data, "samples": list(samples)} if samples else data


def make_test(name, backend, metrics, statuses=None, baseline_scale=1.0):
    """A measured test whose verdicts are `statuses` (default unchanged) against baselines of value * scale."""
    statuses = statuses or {}
    verdicts = {}
    for name_, m in metrics.items():
        baseline = m["value"] * baseline_scale
        change = m["value"] / baseline - 1 if baseline else None
        verdicts[name_] = {
            "status": statuses.get(name_, "unchanged"),
            "current": m["value"],
            "baseline": baseline,
            "change": change,
            "unit": m["unit"],
            "tolerance": 0.1,
        }
    return entry_json(name, backend, metrics, verdicts)


def entry_json(name, backend, metrics, verdicts):
    """A passed test of test_perf.py as the JSON report holds it."""
    return {
        "nodeid": f"test_perf.py::{name}",
        "module": "test_perf.py",
        "test": name,
        "backend": backend,
        "passed": True,
        "failures": [],
        "metrics": metrics,
        "verdicts": verdicts,
        "baseline_changes": {},
        "config": {},
    }


def report(*tests, machine="m"):
    return RunReport.from_json(
        {
            "schema": "pytest-aotperf/report/1",
            "machine": machine,
            "environment": {"commit": "abc123"},
            "settings": {},
            "baselines_written": [],
            "tests": list(tests),
        }
    )
