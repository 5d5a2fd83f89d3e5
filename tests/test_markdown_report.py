"""The Markdown summary: regressions first, then improvements, then every measurement."""

import dataclasses
import json

from fake_timer import CONFTEST
from report_data import entry_json, metric, report

from pytest_aotperf.reporting.markdown import render_markdown


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


def make_test(name, verdicts, metrics=None, backend="eager"):
    return entry_json(name, backend, metrics or {}, verdicts)


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
    assert text.startswith("## aotperf: 1 regressed, 0 noisy, 1 improved, 0 new, 1 unchanged")
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


def test_a_run_with_nothing_to_list_says_so_in_one_line():
    text = render_markdown(report(make_test("t[eager]", {"latency": verdict("unchanged", 0.001, 0.001, 0.0)})))
    assert "\nNothing regressed, noisy or improved: 1 unchanged.\n" in text


def test_backends_side_by_side_with_ratios_to_the_reference():
    latency = {"unit": "s", "better": "lower", "kind": "timing", "value": 0.002}
    run = report(
        make_test("t[eager-1]", {"latency": verdict("unchanged", 0.002, 0.002, 0.0)}, {"latency": latency}),
        make_test(
            "t[inductor-1]",
            {"latency": verdict("unchanged", 0.001, 0.001, 0.0)},
            {"latency": {**latency, "value": 0.001}},
            backend="inductor",
        ),
    )
    text = render_markdown(run)
    section = text[text.index("### Backends side by side") : text.index("<details>")]
    assert "| test | metric | eager | inductor |" in section
    assert "| t[1] | latency | 2.00 ms | 1.00 ms (0.5000x) |" in section
    assert "| t[1] | latency | 1.00 ms | 2.00 ms (2.000x) |" in render_markdown(run, reference="inductor")


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


def ab_report():
    """An A/B report: a regression with its interval, an improvement, and the rest unchanged or information."""
    regressed = dict(verdict("regressed", 0.003, 0.002, 0.5), interval=[1.4, 1.6])
    recorded = report(
        make_test(
            "test_slow[eager]",
            {"latency": regressed, "compile_s": verdict("info", 9.0, 8.0, 0.125)},
            {"latency": metric(0.003), "compile_s": dict(metric(9.0), kind="duration")},
        ),
        make_test(
            "test_fast[eager]",
            {
                "kernels_per_call": verdict("improved", 3, 4, -0.25, unit=""),
                "gpu_peak_allocated": verdict("new", 5, None),
            },
            {
                "kernels_per_call": {"unit": "", "better": "lower", "kind": "count", "value": 3},
                "gpu_peak_allocated": {"unit": "B", "better": "lower", "kind": "memory", "value": 5},
            },
        ),
        make_test("test_same[eager]", {"latency": verdict("unchanged", 0.002, 0.002, 0.0)}, {"latency": metric(0.002)}),
    )
    comparison = {
        "kind": "ab",
        "base": {"ref": "main", "commit": "b" * 40},
        "head": {"commit": "h" * 40},
        "rounds": 3,
        "description": "A/B comparison: head against base.",
    }
    return dataclasses.replace(recorded, comparison=comparison)


def test_an_ab_report_leads_with_its_changes_and_folds_the_rest():
    text = render_markdown(ab_report())
    assert text.startswith("## aotperf A/B: 1 regressed, 1 improved, 1 unchanged; 2 shown as information\n")
    assert f"Head `{'h' * 12}` against base `{'b' * 12}` (main), 3 round(s) each" in text
    assert text.index("### Regressions") < text.index("### Improvements") < text.index("<details><summary>")
    regressions = text[text.index("### Regressions") : text.index("### Improvements")]
    assert "| test_slow[eager] | latency | 2.00 ms | 3.00 ms | +50.0% | 1.400–1.600x |" in regressions
    folded = text[text.index("<details>") : text.index("</details>")]
    assert "- latency: 2 judged, 0 information" in folded and "- compile: 0 judged, 1 information" in folded
    assert "- counts: 1 judged, 0 information" in folded and "- memory: 0 judged, 1 information" in folded
    assert "A/B comparison: head against base." in folded and "| test_same[eager] | eager | latency" in folded
    assert "Backends side by side" not in text


def test_a_report_without_an_ab_comparison_keeps_the_nightly_form():
    assert render_markdown(RECORDED).startswith("## aotperf: ")
