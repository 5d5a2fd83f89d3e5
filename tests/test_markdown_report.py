"""The Markdown summary: regressions first, then improvements, then every measurement."""

import json

from fake_timer import CONFTEST

from pytest_aotperf.reporting.markdown import render_markdown
from pytest_aotperf.results import RunReport


def verdict(status, current, baseline, change=None, unit="s", tolerance=0.1):
    return {
        "status": status,
        "current": current,
        "baseline": baseline,
        "change": change,
        "unit": unit,
        "tolerance": tolerance,
        "metric": "x",
    }


def report(*tests):
    return RunReport.from_json(
        {
            "schema": "pytest-aotperf/report/1",
            "machine": "test-machine",
            "environment": {"commit": "abc123"},
            "settings": {},
            "baselines_written": [],
            "tests": list(tests),
        }
    )


def make_test(name, verdicts, metrics=None, backend="eager"):
    return {
        "nodeid": f"test_perf.py::{name}",
        "module": "test_perf.py",
        "test": name,
        "backend": backend,
        "passed": True,
        "failures": [],
        "verdicts": verdicts,
        "metrics": metrics or {},
        "baseline_changes": {},
        "config": {},
    }


RECORDED = report(
    make_test("test_fast[eager]", {"latency": verdict("improved", 0.001, 0.002, -0.5)}),
    make_test(
        "test_slow[eager]",
        {"latency": verdict("regressed", 0.003, 0.002, 0.5), "gpu_peak_allocated": verdict("unavailable", None, None)},
        {"gpu_peak_allocated": {"unit": "B", "better": "lower", "kind": "memory", "unavailable": "no CUDA device"}},
    ),
    make_test("test_same[a|b]", {"latency": verdict("unchanged", 0.002, 0.002, 0.0)}),
)


def test_regressions_come_first_then_improvements_then_the_table():
    text = render_markdown(RECORDED)
    assert text.startswith("## aotperf: 1 regressed, 1 improved, 0 noisy, 0 new, 1 unchanged")
    assert text.index("### Regressions") < text.index("### Improvements") < text.index("All 3 measurements")
    regressions = text[text.index("### Regressions") : text.index("### Improvements")]
    assert "| test_slow[eager] | eager | latency | 2.00 ms | 3.00 ms | +50.0% | ±10% |" in regressions
    assert "test_fast" not in regressions


def test_every_row_has_baseline_current_change_and_verdict():
    table = render_markdown(RECORDED).split("All 3 measurements")[1]
    assert "| test | backend | metric | baseline | current | change | verdict |" in table
    assert "| test_fast[eager] | eager | latency | 2.00 ms | 1.00 ms | -50.0% | improved |" in table


def test_pipes_in_test_ids_are_escaped_and_unavailable_metrics_listed_once():
    text = render_markdown(RECORDED)
    assert "test_same[a\\|b]" in text
    assert "- gpu_peak_allocated: no CUDA device" in text
    assert "| test_slow[eager] | eager | gpu_peak_allocated" not in text


def test_a_run_without_regressions_has_no_regression_section():
    text = render_markdown(report(make_test("t[eager]", {"latency": verdict("new", 0.001, None)})))
    assert "### Regressions" not in text and "| t[eager] | eager | latency | - | 1.00 ms |  | new |" in text


def test_written_by_the_plugin_and_by_aotperf_report_from_the_json(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_perf="def test_op(aot_backend, aot_perf):\n    aot_perf.measure(lambda: None)\n")
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--aot-machine=m",
        "--aot-max-time=0.01",
        "--aot-report=r.json",
        "--aot-report-md=summary.md",
    )
    result.assert_outcomes(passed=1)
    written = (pytester.path / "summary.md").read_text()
    assert "| test_op[eager] | eager | latency | - | 1.00 ms |  | new |" in written
    from pytest_aotperf.cli import main

    assert main(["report", str(pytester.path / "r.json"), "--md", str(pytester.path / "again.md")]) == 0
    assert (pytester.path / "again.md").read_text() == written
    assert json.loads((pytester.path / "r.json").read_text())["tests"][0]["test"] == "test_op[eager]"
