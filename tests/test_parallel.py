"""Parallel and concurrent runs lose nothing: pytest-xdist workers, and two refreshing processes at once."""

import json
import sqlite3
import subprocess
import sys
import time

import pytest
from fake_timer import CONFTEST
from test_plugin import baseline_file, run

pytest.importorskip("xdist")

TESTS = 8
MODULE = "\n".join(f"def test_{i}(aot_backend, aot_perf):\n    aot_perf.measure(lambda: None)\n" for i in range(TESTS))
NAMES = {f"test_{i}[eager]" for i in range(TESTS)}


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.setenv("AOT_FAKE_MS", "1.2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU to share out: -n 2 on a one-GPU machine too
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_perf=MODULE)
    return pytester


def parallel(pytester, *args):
    return run(pytester, "-p", "xdist", "-n", "2", "-p", "no:benchmark", *args)


def stored_tests(pytester):
    path = baseline_file(pytester)
    return set(json.loads(path.read_text())["tests"])


def test_xdist_refresh_then_check_keeps_every_workers_tests(suite, monkeypatch):
    """Workers measure and judge; the controller writes baselines, reports, history and the table once."""
    outputs = ("--aot-report=r.json", "--aot-report-md=r.md", "--aot-history=h.sqlite")
    result = parallel(suite, "--aot-refresh", *outputs)
    result.assert_outcomes(passed=TESTS)
    assert stored_tests(suite) == NAMES
    result.stdout.fnmatch_lines(["*aotperf (machine test-machine)*", "*baseline written: *test_perf.json"])
    assert len([line for line in result.outlines if "latency" in line and "new" in line]) == TESTS
    report = json.loads((suite.path / "r.json").read_text())
    assert {test["test"] for test in report["tests"]} == NAMES
    assert all(test["baseline_changes"]["latency"] == "added" for test in report["tests"])
    assert all(f"test_{i}" in (suite.path / "r.md").read_text() for i in range(TESTS))
    with sqlite3.connect(suite.path / "h.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
        assert {row[0] for row in db.execute("SELECT test FROM measurements")} == NAMES

    parallel(suite, "--aot-strict").assert_outcomes(passed=TESTS)
    monkeypatch.setenv("AOT_FAKE_MS", "2.31")
    result = parallel(suite)
    result.assert_outcomes(failed=TESTS)
    result.stdout.fnmatch_lines(["*aotperf: test_?[[]eager[]] (backend eager): latency median 2.31 ms vs baseline*"])


def test_an_xdist_refresh_with_prior_runs_records_them(suite, monkeypatch):
    run(suite, "--aot-report=first.json").assert_outcomes(passed=TESTS)
    parallel(suite, "--aot-refresh", "--aot-prior-runs=first.json").assert_outcomes(passed=TESTS)
    path = baseline_file(suite)
    runs = [entry["metrics"]["latency"]["runs"] for entry in json.loads(path.read_text())["tests"].values()]
    assert runs == [[pytest.approx(1.2e-3)] * 2] * TESTS


def test_an_unusable_baseline_file_stops_an_xdist_run_naming_the_file(suite):
    path = baseline_file(suite)
    path.parent.mkdir(parents=True)
    path.write_text('{"tests": NaN}')
    result = parallel(suite, "--aot-refresh")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*aotperf: baseline file {path}: is not valid JSON: NaN is not a JSON number*"])
    assert path.read_text() == '{"tests": NaN}'


GATED = """
import os, pathlib, time


def test_a(aot_backend, aot_perf):
    gate = os.environ.get("AOT_GATE")
    if gate:  # this run has read the baselines: say so, and wait until the other run has written
        pathlib.Path(gate + ".waiting").touch()
        deadline = time.monotonic() + 120
        while not pathlib.Path(gate).exists():
            assert time.monotonic() < deadline, "the other run never finished"
            time.sleep(0.05)
    aot_perf.measure(lambda: None)


def test_b(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)
"""


def start_gated_refresh(pytester, monkeypatch, *args):
    """A refresh in its own process that has read the baselines and waits in test_a for the gate file."""
    gate = pytester.path / "gate"
    monkeypatch.setenv("AOT_GATE", str(gate))
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--aot-machine=test-machine", "--aot-refresh"]
    process = pytester.popen([*command, *args], stdin=subprocess.DEVNULL)
    monkeypatch.delenv("AOT_GATE")
    deadline = time.monotonic() + 120
    while not gate.with_name("gate.waiting").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    return process, gate


def finish(process, gate):
    gate.touch()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, out.decode() + err.decode()
    return out.decode()


def test_two_processes_refreshing_different_tests_of_one_module_keep_both(suite, monkeypatch):
    suite.makepyfile(test_perf=GATED)
    first, gate = start_gated_refresh(suite, monkeypatch, "-k", "test_a")
    suite.runpytest_subprocess(
        "-p", "no:cacheprovider", "--aot-machine=test-machine", "--aot-refresh", "-k", "test_b"
    ).assert_outcomes(passed=1, deselected=1)
    finish(first, gate)
    assert stored_tests(suite) == {"test_a[eager]", "test_b[eager]"}


def test_two_processes_refreshing_one_test_last_writer_wins_with_a_warning(suite, monkeypatch):
    suite.makepyfile(test_perf=GATED)
    first, gate = start_gated_refresh(suite, monkeypatch, "-k", "test_a")
    monkeypatch.setenv("AOT_FAKE_MS", "2.0")
    suite.runpytest_subprocess(
        "-p", "no:cacheprovider", "--aot-machine=test-machine", "--aot-refresh", "-k", "test_a"
    ).assert_outcomes(passed=1, deselected=1)
    out = finish(first, gate)
    assert "BaselineOverwriteWarning" in out and "the baseline of test_a[eager] was refreshed by another run" in out
    path = baseline_file(suite)
    latency = json.loads(path.read_text())["tests"]["test_a[eager]"]["metrics"]["latency"]
    assert latency["value"] == pytest.approx(1.2e-3)
