"""The run history: runs stored in SQLite, and slow drift flagged from recorded values."""

import pytest
from fake_timer import CONFTEST

from pytest_aotperf.cli import main
from pytest_aotperf.history.store import append_run, load_run_values, load_series
from pytest_aotperf.history.trend import detect_drift, kendall_tau, theil_sen_slope
from pytest_aotperf.metrics import Metric
from pytest_aotperf.reporting.history import history_html
from pytest_aotperf.results import PerfTestId, PerfTestResult, RunReport
from pytest_aotperf.verdict import Verdict

NIGHTLY_CREEP = [1.000, 1.018, 1.031, 1.052, 1.060, 1.083, 1.095, 1.118, 1.126, 1.149]
"""Latency (ms) of ten nights, each at most ~2% slower than the night before: +15% in all."""
NOISE = [1.00, 1.06, 0.97, 1.04, 0.99, 1.05, 0.96, 1.03, 1.01, 0.98]
ONE_STEP = [1.0] * 5 + [1.05] * 5


def test_a_slow_creep_under_the_tolerance_each_night_is_flagged():
    drift = detect_drift(NIGHTLY_CREEP, tolerance=0.10)
    assert drift is not None and drift.runs == 10
    assert drift.change == pytest.approx(0.149, abs=0.01)
    assert drift.largest_step < 0.03 and drift.agreement == 1.0
    assert "over the last 10 runs" in drift.describe()


def test_noise_and_a_small_step_are_not_drift():
    assert detect_drift(NOISE, tolerance=0.10) is None
    assert detect_drift(ONE_STEP, tolerance=0.10) is None


def test_direction_follows_better():
    throughput_falling = [1 / v for v in NIGHTLY_CREEP]
    assert detect_drift(throughput_falling, tolerance=0.10, better="higher") is not None
    assert detect_drift(throughput_falling, tolerance=0.10, better="lower") is None
    assert detect_drift(NIGHTLY_CREEP, tolerance=0.10, better="higher") is None


def test_only_the_window_counts_and_few_runs_are_no_trend():
    assert detect_drift([5.0, 0.1] + [1.0] * 8, tolerance=0.10, window=8) is None
    assert detect_drift(NIGHTLY_CREEP[:4], tolerance=0.01) is None


def test_trend_statistics_resist_one_outlier():
    assert theil_sen_slope([1, 2, 3, 100, 5]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4]) == 1.0 and kendall_tau([4, 3, 2, 1]) == -1.0


def report(night, latency, test="test_op[eager]", machine="gpu-box", unit="s", status="unchanged"):
    """A night's run of one test, its latency judged `status` against a 1 ms baseline."""
    result = PerfTestResult(
        test=PerfTestId.of(f"test_perf.py::{test}", "eager"),
        metrics=(Metric("latency", "s", "lower", "timing", value=latency),),
        verdicts=(Verdict("latency", status, latency, 1e-3, unit, 0.1),),
        failures=(),
    )
    environment = {"time": f"2026-01-{night:02d}T02:00:00+00:00", "commit": f"c{night:02d}"}
    return RunReport(machine, environment, {}, (), (result,))


@pytest.fixture
def history(tmp_path):
    db = tmp_path / "history.sqlite"
    for night, value in enumerate(NIGHTLY_CREEP, start=1):
        append_run(db, report(night, value * 1e-3))
        append_run(db, report(night, 2e-3, test="test_other[eager]"))
    return db


def test_runs_are_stored_and_read_back_per_test_in_order(history):
    series = load_series(history, "latency", test="test_op")
    points = series[("test_op[eager]", "eager")]
    assert list(series) == [("test_op[eager]", "eager")]
    assert [p.value for p in points] == pytest.approx([v * 1e-3 for v in NIGHTLY_CREEP])
    assert points[0].commit == "c01" and points[-1].tolerance == 0.1


def test_aotperf_history_prints_the_runs_and_flags_the_drift(history, tmp_path, capsys):
    assert main(["history", "test_op", "--db", str(history), "--html", str(tmp_path / "h.html")]) == 0
    out = capsys.readouterr().out
    assert "test_op[eager] (eager) latency: 10 run(s)" in out and "1.15 ms  +14.9%" in out
    assert "DRIFT test_op[eager] (eager) latency: drift: +" in out
    assert "test_other" not in out
    assert (tmp_path / "h.html").read_text().count("<svg") == 1


@pytest.mark.parametrize("window", ["4", "0", "-3"])
def test_a_drift_window_too_short_to_show_a_drift_is_refused(history, window, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["history", "--db", str(history), "--window", window])
    assert stopped.value.code == 2
    assert "--window must be at least 5: fewer runs are never taken for a drift" in capsys.readouterr().err


def test_a_missing_history_is_an_error_naming_the_option(tmp_path, capsys):
    assert main(["history", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "--aot-history=" in capsys.readouterr().err


def test_the_plugin_appends_each_run(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_perf="def test_op(aot_backend, aot_perf):\n    aot_perf.measure(lambda: None)\n")
    for _ in range(2):
        pytester.runpytest("-p", "no:cacheprovider", "--aot-max-time=0.01", "--aot-history=h.sqlite").assert_outcomes(
            passed=1
        )
    series = load_series(pytester.path / "h.sqlite", "latency")
    assert [p.value for p in series[("test_op[eager]", "eager")]] == [1e-3, 1e-3]
    assert "<svg" in history_html(series, "latency")


QUIET = [1.00, 1.02, 0.99, 1.01, 0.98, 1.02, 1.00, 0.99, 1.01, 1.00, 1.02, 0.99]
STEPPED = QUIET[:6] + [1.3 * v for v in QUIET[6:]]


def recorded(tmp_path, values, machine="gpu-box", unit="s"):
    db = tmp_path / "history.sqlite"
    for night, value in enumerate(values, start=1):
        append_run(db, report(night, value * 1e-3, machine=machine, unit=unit))
    return db


def test_earlier_values_are_read_per_machine_test_metric_and_unit(tmp_path):
    db = recorded(tmp_path, QUIET)
    recorded(tmp_path, [5.0, 5.0], machine="other-box")
    recorded(tmp_path, [7.0], unit="ms")
    values = load_run_values(db, "gpu-box", "test_perf.py::test_op[eager]", "eager", "latency", "s")
    assert values == pytest.approx([v * 1e-3 for v in QUIET])
    assert load_run_values(db, "gpu-box", "test_perf.py::test_op[eager]", "eager", "tpot", "s") == ()
    assert load_run_values(tmp_path / "none.sqlite", "gpu-box", "t", "eager", "latency", "s") == ()


def test_history_shows_each_runs_band_once_ten_runs_came_before(tmp_path, capsys):
    db = recorded(tmp_path, QUIET[:11] + [1.5])
    assert main(["history", "--db", str(db), "--html", str(tmp_path / "h.html")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "band" not in "".join(lines[1:11])
    assert "band 902 µs .. 1.10 ms (10 runs)" in lines[11] and not lines[11].endswith("outside")
    assert lines[12].endswith("(11 runs)  outside")
    assert lines[13].startswith("  next run: band ")
    assert "<polygon" in (tmp_path / "h.html").read_text()


def test_history_changes_lists_the_step_with_the_commits_on_either_side(tmp_path, capsys):
    db = recorded(tmp_path, STEPPED)
    assert main(["history", "--db", str(db), "--changes"]) == 0
    out = capsys.readouterr().out
    assert "test_op[eager] (eager) latency: 1 step(s) in 12 run(s)" in out
    assert "2026-01-07T02:00:00+00:00  c06 -> c07  1.01 ms -> 1.30 ms  (+29.4%)" in out


def test_a_quiet_history_has_no_changes(tmp_path, capsys):
    assert main(["history", "--db", str(recorded(tmp_path, QUIET)), "--changes"]) == 0
    assert "latency: 0 step(s) in 12 run(s)" in capsys.readouterr().out


def test_the_history_page_rings_regressed_runs_and_draws_change_points(tmp_path):
    db = recorded(tmp_path, STEPPED)
    append_run(db, report(13, 2e-3, status="regressed"))
    page = history_html(load_series(db, "latency"), "latency")
    assert "change point: c06 -&gt; c07" in page
    assert "regressed: c13" in page


def test_a_report_with_a_history_shows_each_tests_latency_trend(tmp_path, history):
    report_path = tmp_path / "r.json"
    page_path = tmp_path / "r.html"
    report_path.write_text(
        __import__("json").dumps(
            {
                "schema": "pytest-aotperf/report/1",
                "machine": "gpu-box",
                "environment": {},
                "tests": [
                    {
                        "nodeid": "test_perf.py::test_op[eager]",
                        "module": "test_perf.py",
                        "test": "test_op[eager]",
                        "backend": "eager",
                        "failures": [],
                        "metrics": {"latency": {"unit": "s", "better": "lower", "kind": "timing", "value": 1e-3}},
                        "verdicts": {
                            "latency": {"status": "unchanged", "current": 1e-3, "unit": "s", "tolerance": 0.1}
                        },
                    }
                ],
            }
        )
    )
    assert main(["report", str(report_path), "--html", str(page_path), "--history", str(history)]) == 0
    assert "latency trend" in page_path.read_text()


def test_with_enough_runs_in_the_history_the_verdict_uses_their_band(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_perf="def test_op(aot_backend, aot_perf):\n    aot_perf.measure(lambda: None)\n")
    args = ("-p", "no:cacheprovider", "--aot-max-time=0.01", "--aot-history=h.sqlite", "--aot-history-min-runs=3")
    for value in ("1.0", "1.01", "0.99"):
        monkeypatch.setenv("AOT_FAKE_MS", value)
        pytester.runpytest(*args).assert_outcomes(passed=1)
    monkeypatch.setenv("AOT_FAKE_MS", "2.0")
    result = pytester.runpytest(*args)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*latency 2.00 ms vs history mean *(+100.0%, tolerance *history band from 3 runs*"])
