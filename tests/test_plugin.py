"""The plugin end to end, through pytester, on an injected clock unless a test says otherwise."""

import json
import sys

import pytest
from fake_timer import CONFTEST

MEASURED_TEST = """
def test_op(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setenv("AOT_FAKE_MS", "1.2")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_perf=MEASURED_TEST)
    return pytester


def run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "--aot-machine=test-machine", "--aot-max-time=0.05", *args)


def baseline_file(pytester, backend="eager"):
    return pytester.path / "baselines" / "test-machine" / backend / "test_perf.json"


def test_unknown_backend_is_a_usage_error_listing_the_known_ones(suite):
    result = run(suite, "--aot-backend=eager,tpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown backend 'tpu'; known backends: eager, inductor, cudagraph, vllm*"])


def test_tests_are_parametrized_per_backend(suite):
    suite.makepyfile(test_plain="def test_plain(): pass")
    result = run(suite, "--aot-backend=eager,inductor", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["test_perf.py::test_op?eager?", "test_perf.py::test_op?inductor?", "test_plain.py::test_plain"]
    )


def test_tests_run_grouped_by_backend_so_each_backend_is_built_and_released_once(suite):
    suite.makepyfile(
        test_more="""
def test_a(aot_backend):
    pass

def test_b(aot_backend):
    pass
""",
        test_plain="def test_plain(): pass",
    )
    result = run(suite, "--aot-backend=eager,inductor", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "test_more.py::test_a?eager?",
            "test_more.py::test_b?eager?",
            "test_perf.py::test_op?eager?",
            "test_more.py::test_a?inductor?",
            "test_more.py::test_b?inductor?",
            "test_perf.py::test_op?inductor?",
            "test_plain.py::test_plain",
        ]
    )


def test_a_backend_the_machine_cannot_run_is_skipped_with_the_reason(suite):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine can run CUDA graphs")
    result = run(suite, "--aot-backend=cudagraph", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*backend cudagraph: *CUDA*"])


def test_marker_restricts_backends(suite):
    suite.makepyfile(
        test_perf="""
import pytest

@pytest.mark.aotperf(backends=["inductor"])
def test_op(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)
"""
    )
    result = run(suite, "--aot-backend=eager", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*runs only on backend(s) inductor*"])


def test_first_run_reports_new_and_names_missing_machine(suite):
    (suite.path / "baselines" / "nvidia-h100-80gb-hbm3" / "eager").mkdir(parents=True)
    (suite.path / "baselines" / "nvidia-h100-80gb-hbm3" / "eager" / "x.json").write_text("{}")
    result = run(suite)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*test / metric*baseline*current*change*verdict*",
            "test_op?eager? (eager)",
            "*latency*-*1.20 ms*new*",
            "*no baselines for machine 'test-machine'*machines with baselines: nvidia-h100-80gb-hbm3*",
        ]
    )
    assert not baseline_file(suite).exists()


def test_refresh_creates_the_baseline(suite):
    result = run(suite, "--aot-refresh")
    result.assert_outcomes(passed=1)
    data = json.loads(baseline_file(suite).read_text())
    latency = data["tests"]["test_op[eager]"]["metrics"]["latency"]
    assert latency["value"] == pytest.approx(1.2e-3) and latency["unit"] == "s" and latency["kind"] == "timing"
    assert data["machine"] == "test-machine" and data["backend"] == "eager"
    assert set(data["tests"]["test_op[eager]"]["environment"]) >= {
        "device",
        "python",
        "torch",
        "pytest_aotperf",
        "time",
    }
    assert "unavailable" in data["tests"]["test_op[eager]"]["metrics"]["gpu_peak_allocated"] or sys.platform != "linux"


def test_refresh_with_nothing_changed_leaves_the_file_byte_identical(suite):
    def refresh():
        result = suite.runpytest_subprocess(
            "-p", "no:cacheprovider", "--aot-machine=test-machine", "--aot-max-time=0.05", "--aot-refresh"
        )
        result.assert_outcomes(passed=1)
        return baseline_file(suite).read_bytes()

    assert refresh() == refresh()


def test_forced_refresh_rewrites(suite):
    run(suite, "--aot-refresh")
    result = run(suite, "--aot-refresh", "--aot-force-refresh", "--aot-report=r.json")
    result.assert_outcomes(passed=1)
    report = json.loads((suite.path / "r.json").read_text())
    assert report["tests"][0]["baseline_changes"]["latency"] == "updated"


def test_unchanged_passes(suite, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per metric, whatever the terminal CI runs in
    run(suite, "--aot-refresh")
    result = run(suite, "--aot-table=all")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_op?eager?*latency*1.20 ms*1.20 ms*+0.0%*unchanged*"])


def test_the_table_shows_what_needs_a_look_unless_asked_for_everything(suite, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per metric, whatever the terminal CI runs in
    run(suite, "--aot-refresh")
    result = run(suite)
    result.stdout.fnmatch_lines(
        ["*0 regressed, 0 noisy, 0 improved, 0 new, * unchanged", "not shown: * unchanged (-v *"]
    )
    result.stdout.no_fnmatch_line("*test_op?eager?*latency*unchanged*")
    run(suite, "-v").stdout.fnmatch_lines(["*test_op?eager?*latency*1.20 ms*unchanged*"])
    result = run(suite, "--aot-table=some")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--aot-table*'some' is not one of: attention, all*"])


def test_regression_fails_the_test_with_the_numbers(suite, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per metric, whatever the terminal CI runs in
    run(suite, "--aot-refresh")
    monkeypatch.setenv("AOT_FAKE_MS", "2.31")
    result = run(suite)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*aotperf: test_op?eager? (backend eager): "
            "latency median 2.31 ms vs baseline 1.20 ms (+92.5%, tolerance 10%)*",
            "*test_op?eager?*latency*1.20 ms*2.31 ms*+92.5%*regressed*",
        ]
    )


def test_a_run_on_a_much_slower_host_flags_its_host_speed_verdicts(suite, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    run(suite, "--aot-refresh")
    monkeypatch.setenv("AOT_FAKE_HOST_NS", "149")
    run(suite).stdout.no_fnmatch_line("*slow-host*")
    monkeypatch.setenv("AOT_FAKE_HOST_NS", "150")
    monkeypatch.setenv("AOT_FAKE_MS", "2.31")
    result = run(suite)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*latency median 2.31 ms vs baseline 1.20 ms (+92.5%, tolerance 10%) ?slow-host?*"])


def test_per_metric_tolerance_from_the_marker(suite, monkeypatch):
    suite.makepyfile(
        test_perf="""
import pytest

@pytest.mark.aotperf(metrics={"latency": "100%"})
def test_op(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)
"""
    )
    run(suite, "--aot-refresh")
    monkeypatch.setenv("AOT_FAKE_MS", "2.31")
    run(suite).assert_outcomes(passed=1)


@pytest.mark.parametrize("tolerance, samples", [("10%", 20), ("0.1%", 41)])
def test_sampling_stops_once_the_median_is_tight_for_the_tests_tolerance(suite, tolerance, samples):
    """The fake timer's samples spread by 1%: tight for 10% at the first 20, never for 0.1% (then 50 ms of 1.2 ms)."""
    suite.makeini(f"[pytest]\naot_tolerance = {tolerance}\n")
    run(suite, "--aot-report=r.json").assert_outcomes(passed=1)
    latency = json.loads((suite.path / "r.json").read_text())["tests"][0]["metrics"]["latency"]
    assert latency["summary"]["n"] == samples


def test_tolerance_from_the_ini_file_and_bad_ini_values(suite, monkeypatch):
    run(suite, "--aot-refresh")
    monkeypatch.setenv("AOT_FAKE_MS", "2.31")
    suite.makeini("[pytest]\naot_tolerance = 100%\n")
    run(suite).assert_outcomes(passed=1)
    suite.makeini("[pytest]\naot_tolerance = lots\n")
    result = run(suite)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option aot_tolerance = 'lots'*not a percentage*"])


def test_refresh_mode_reports_but_does_not_fail(suite, monkeypatch):
    run(suite, "--aot-refresh")
    monkeypatch.setenv("AOT_FAKE_MS", "2.31")
    result = run(suite, "--aot-refresh")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*latency*regressed*", "*baseline written:*test_perf.json*"])
    stored = json.loads(baseline_file(suite).read_text())["tests"]["test_op[eager]"]["metrics"]["latency"]
    assert stored["value"] == pytest.approx(2.31e-3)


def test_strict_mode_fails_without_baseline(suite):
    result = run(suite, "--aot-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no baseline for latency*--aot-strict*"])


def test_improvement_is_reported_and_fails_on_request(suite, monkeypatch):
    run(suite, "--aot-refresh")
    monkeypatch.setenv("AOT_FAKE_MS", "0.5")
    run(suite).stdout.fnmatch_lines(["*latency*improved*"])
    result = run(suite, "--aot-fail-on-improvement")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the baseline is stale (refresh it with `aotperf refresh`)*"])


def test_corrupt_baseline_fails_the_run_naming_the_file_and_keeps_it(suite):
    path = baseline_file(suite)
    path.parent.mkdir(parents=True)
    path.write_text('{"schema": "pytest-aotperf/baseline/1", "tests": {')
    for args in ((), ("--aot-refresh",)):
        result = run(suite, *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{path}: is not valid JSON*"])
    assert path.read_text() == '{"schema": "pytest-aotperf/baseline/1", "tests": {'


def test_refreshing_one_test_keeps_the_others(suite):
    suite.makepyfile(
        test_perf=MEASURED_TEST
        + """
def test_other(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)
"""
    )
    run(suite, "--aot-refresh")
    run(suite, "--aot-refresh", "--aot-force-refresh", "-k", "test_op")
    assert set(json.loads(baseline_file(suite).read_text())["tests"]) == {"test_op[eager]", "test_other[eager]"}


def test_limits_hold_without_a_baseline(suite):
    suite.makepyfile(
        test_perf="""
import pytest

@pytest.mark.aotperf(limits={"latency": "1 ms", "host_peak_rss": "1 TiB"})
def test_slow(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)

@pytest.mark.aotperf(limits={"latnecy": "1 ms"})
def test_typo(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)
"""
    )
    result = run(suite)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "*latency 1.20 ms is above its limit 1.00 ms*",
            "*limits name metric 'latnecy', which this test did not record; recorded: *latency*",
        ]
    )


def test_bad_marker_values_are_errors_naming_the_test(suite):
    suite.makepyfile(
        test_perf="""
import pytest

@pytest.mark.aotperf(limits={"latency": "5 parsecs"})
def test_op(aot_backend, aot_perf):
    pass
"""
    )
    result = run(suite)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_perf.py::test_op?eager?: @pytest.mark.aotperf: limit for 'latency'*unknown unit 'parsecs'*"]
    )


def test_report_json_holds_the_whole_run(suite):
    run(suite, "--aot-refresh")
    run(suite, "--aot-report=out/report.json").assert_outcomes(passed=1)
    report = json.loads((suite.path / "out" / "report.json").read_text())
    assert report["schema"] == "pytest-aotperf/report/1" and report["machine"] == "test-machine"
    assert {"device", "python", "torch", "commit", "time"} <= set(report["environment"])
    test = report["tests"][0]
    assert test["nodeid"] == "test_perf.py::test_op[eager]" and test["backend"] == "eager" and test["passed"]
    latency = test["metrics"]["latency"]
    assert set(latency["summary"]) == {"n", "min", "median", "mean", "stddev", "iqr", "p90", "p99"}
    verdict = test["verdicts"]["latency"]
    assert verdict["status"] == "unchanged" and verdict["baseline"] == pytest.approx(1.2e-3)
    assert test["metrics"]["gpu_peak_allocated"]["unavailable"]


def test_compile_statistics_are_recorded(suite):
    pytest.importorskip("torch")
    suite.makepyfile(
        test_perf="""
import torch

def test_linear(aot_backend, aot_compile, aot_perf):
    model = aot_compile(torch.nn.Linear(4, 4), (torch.randn(2, 4),))
    aot_perf.measure(model, torch.randn(2, 4))
"""
    )
    # In a subprocess: pytester's in-process runs unload what they import, and torch.compile's
    # registries cannot be imported twice in one process.
    result = suite.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--aot-machine=test-machine",
        "--aot-max-time=0.05",
        "--aot-backend=inductor",
        "--aot-report=r.json",
    )
    result.assert_outcomes(passed=1)
    metrics = json.loads((suite.path / "r.json").read_text())["tests"][0]["metrics"]
    assert metrics["compile_s"]["value"] > 0 and metrics["compile_s"]["kind"] == "duration"
    assert metrics["graphs"]["value"] == 1 and metrics["graphs"]["kind"] == "count"
    assert metrics["graph_breaks"]["value"] == 0 and metrics["graph_breaks"]["kind"] == "count"
    assert metrics["recompilations"]["value"] == 0 and metrics["recompilations"]["kind"] == "count"


def test_real_timing_catches_a_large_slowdown(pytester, monkeypatch):
    """Real clock, no injection: a 10,000x slower function must fail against the band of its 5 recorded runs.
    From so few runs, a band that fails one unchanged run in 10,000 spans many times their spread: on CI's
    shared machine, where two of five processes ran 1.7x slower, it reached 145x; five runs each 1x, 1.7x
    or 2x can widen it to 973x."""
    pytester.makepyfile(
        test_perf="""
import os

def work(n):
    total = 0
    for i in range(n):
        total += i
    return total

def test_loop(aot_perf):
    aot_perf.measure(work, int(os.environ["AOT_LOOP"]), max_time=0.2)
"""
    )
    monkeypatch.setenv("AOT_LOOP", "200")
    common = ("-p", "no:cacheprovider", "--aot-machine=test-machine")
    assert pytester.run(sys.executable, "-m", "pytest_aotperf", "refresh", "--runs", "5", *common).ret == 0
    monkeypatch.setenv("AOT_LOOP", "2000000")
    result = pytester.runpytest_subprocess(*common)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*aotperf: test_loop (backend none): latency * vs baseline runs mean *"])


def test_cli_refresh_show_and_compare(suite, monkeypatch):
    def cli(*args):
        return suite.run(sys.executable, "-m", "pytest_aotperf", *args)

    result = cli(
        "refresh", "--runs", "2", "-p", "no:cacheprovider", "--aot-machine=test-machine", "--aot-max-time=0.05"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["test_op?eager? (eager)", "*latency*new*", "*aotperf refresh: * metric(s) written*"])
    stored = json.loads(baseline_file(suite).read_text())["tests"]["test_op[eager]"]["metrics"]["latency"]
    assert len(stored["runs"]) == 2

    result = cli("refresh", "-p", "no:cacheprovider", "--aot-machine=test-machine", "--aot-max-time=0.05")
    result.stdout.fnmatch_lines(["*0 metric(s) written*files written: none*"])

    cli_show = cli("show", "baselines")
    cli_show.stdout.fnmatch_lines(
        ["*machine*backend*test*metric*value*", "*test-machine*eager*test_op?eager?*latency*1.20 ms*"]
    )

    run(suite, "--aot-report=a.json")
    monkeypatch.setenv("AOT_FAKE_MS", "2.4")
    run(suite, "--aot-report=b.json")
    compared = cli("compare", "a.json", "b.json")
    compared.stdout.fnmatch_lines(["*test_op?eager?*latency*1.20 ms*2.40 ms*2.000x*"])
    assert cli("compare", "a.json", "missing.json").ret == 2


def test_an_unavailable_backend_skips_before_measuring(suite):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine can run CUDA graphs")
    suite.makepyfile(
        test_perf="""
def test_op(aot_perf, aot_backend):
    aot_perf.measure(lambda: None)
"""
    )
    run(suite, "--aot-backend=cudagraph").assert_outcomes(skipped=1)


def test_cli_refresh_from_reports_writes_baselines_as_runs(suite, monkeypatch):
    run(suite, "--aot-report=first.json")
    monkeypatch.setenv("AOT_FAKE_MS", "1.3")
    run(suite, "--aot-report=second.json")
    result = suite.run(
        sys.executable,
        "-m",
        "pytest_aotperf",
        "refresh",
        "--from-reports",
        "first.json",
        "second.json",
        "--baseline-dir",
        "elsewhere",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*aotperf refresh: * metric(s) written from 2 report(s)*"])
    stored = json.loads((suite.path / "elsewhere" / "test-machine" / "eager" / "test_perf.json").read_text())
    latency = stored["tests"]["test_op[eager]"]["metrics"]["latency"]
    assert latency["runs"] == [pytest.approx(1.2e-3), pytest.approx(1.3e-3)]
    assert latency["value"] == pytest.approx(1.3e-3)
    assert suite.run(sys.executable, "-m", "pytest_aotperf", "refresh", "--from-reports", "missing.json").ret == 2
    absolute = str(suite.path / "first.json")
    twice = suite.run(sys.executable, "-m", "pytest_aotperf", "refresh", "--from-reports", "first.json", absolute)
    assert twice.ret == 2
    twice.stderr.fnmatch_lines(["*--from-reports: */first.json, first.json given more than once (one run each)"])


def test_cli_refresh_from_reports_of_several_backends_keeps_each_backends_tests(suite, monkeypatch):
    run(suite, "--aot-report=eager-a.json")
    monkeypatch.setenv("AOT_FAKE_MS", "2.0")
    run(suite, "--aot-backend=inductor", "--aot-report=inductor.json")
    monkeypatch.setenv("AOT_FAKE_MS", "1.3")
    run(suite, "--aot-report=eager-b.json")
    reports = ("eager-a.json", "inductor.json", "eager-b.json")
    assert suite.run(sys.executable, "-m", "pytest_aotperf", "refresh", "--from-reports", *reports).ret == 0

    def stored_runs(backend):
        metrics = json.loads(baseline_file(suite, backend).read_text())["tests"][f"test_op[{backend}]"]["metrics"]
        return metrics["latency"]["runs"]

    assert stored_runs("eager") == [pytest.approx(1.2e-3), pytest.approx(1.3e-3)]
    assert stored_runs("inductor") == [pytest.approx(2.0e-3)]


def report_from_another_environment(suite, source, target):
    report = json.loads((suite.path / source).read_text())
    report["environment"]["torch"] = "0.0.0"
    (suite.path / target).write_text(json.dumps(report))


def test_cli_refresh_from_reports_of_two_environments_refuses_naming_both(suite):
    run(suite, "--aot-report=here.json")
    report_from_another_environment(suite, "here.json", "there.json")
    result = suite.run(sys.executable, "-m", "pytest_aotperf", "refresh", "--from-reports", "here.json", "there.json")
    assert result.ret == 2
    result.stderr.fnmatch_lines(
        ["*test_op?eager?: here.json and there.json were recorded in different environments (torch * -> 0.0.0)*"]
    )
    assert not baseline_file(suite).exists()


def test_cli_refresh_from_reports_names_an_environment_that_differs_from_the_stored_one(suite):
    run(suite, "--aot-refresh", "--aot-report=here.json")
    report_from_another_environment(suite, "here.json", "there.json")
    result = suite.run(sys.executable, "-m", "pytest_aotperf", "refresh", "--from-reports", "there.json", "--force")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["aotperf refresh: the reports' environment differs from the stored baselines': torch * -> 0.0.0"]
    )


@pytest.mark.parametrize("key", ["../../escape", "/tmp/abs", "a/b"])
def test_a_machine_key_that_would_leave_the_baseline_folder_is_a_usage_error(suite, key):
    result = suite.runpytest("-p", "no:cacheprovider", f"--aot-machine={key}", "--aot-refresh")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*argument --aot-machine: machine key '{key}' is not allowed*"])
    assert [p.name for p in suite.path.iterdir() if p.is_dir()] == []


@pytest.mark.parametrize(
    "call, message",
    [
        ('record("score", float("nan"), better="higher")', "metric 'score': nan is not a finite number"),
        ('record("score", float("inf"))', "metric 'score': inf is not a finite number"),
        (
            'record("compile_s", -5, unit="s", kind="duration")',
            "metric 'compile_s': a duration metric cannot be negative",
        ),
        ('record("weights", -1, unit="B", kind="memory")', "metric 'weights': a memory metric cannot be negative"),
    ],
)
def test_nan_infinity_and_negative_times_fail_the_test_naming_metric_and_test(suite, call, message):
    suite.makepyfile(test_perf=f"def test_op(aot_backend, aot_perf):\n    aot_perf.{call}\n")
    result = run(suite, "--aot-refresh")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*ValueError: test_perf.py::test_op?eager?: {message}*"])
    assert not baseline_file(suite).exists()
