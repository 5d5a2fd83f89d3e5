"""pytest-benchmark interop, both ways, on a deterministic clock (pytest-benchmark's --benchmark-timer)."""

import json
import re
import subprocess
import sys

import pytest
from fake_timer import CONFTEST

from pytest_aotperf.interop.gate import synchronized

CLOCK = """
import os

_now = [0.0]


def tick():
    # A clock that moves a nanosecond per reading, and AOT_STEP_MS per call of work().
    _now[0] += 1e-9
    return _now[0]


def work(*args):
    _now[0] += float(os.environ.get("AOT_STEP_MS", "1")) * 1e-3
    return sum(args)
"""
PLAIN_SUITE = """
from fakeclock import work


def test_sum(benchmark):
    assert benchmark.pedantic(work, args=(1, 2), rounds=20, iterations=1) == 3


def test_work(benchmark):
    benchmark(work, 5)


def test_not_a_benchmark():
    pass
"""


@pytest.fixture
def bench_suite(pytester, monkeypatch):
    monkeypatch.setenv("AOT_STEP_MS", "1")
    # pytest-benchmark disables itself where this variable is set: in an xdist worker running these tests
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(fakeclock=CLOCK, test_bench=PLAIN_SUITE)
    pytester.syspathinsert()
    return pytester


def run(pytester, *args):
    """A run on the deterministic clock: the quiet machine whose timings the fixed tolerance judges."""
    return pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--benchmark-timer=fakeclock.tick",
        "--benchmark-max-time=0.02",
        "--aot-machine=m",
        "--aot-host-timings=tolerance",
        *args,
    )


def benchmark_options(help_text):
    return [line for line in help_text.splitlines() if line.lstrip().startswith("--benchmark")]


def test_a_plain_pytest_benchmark_suite_behaves_the_same_with_aotperf_installed(bench_suite):
    # Each in a process of its own: pytest >= 9.2 warns in an in-process run that the plugin of an
    # editable install (this one) was imported before it could be rewritten, an artefact of pytester.
    common = ("-p", "no:cacheprovider", "--benchmark-timer=fakeclock.tick", "--benchmark-max-time=0.02")
    with_plugin = bench_suite.runpytest_subprocess(*common, "--aot-machine=m", "--benchmark-json=with.json")
    without = bench_suite.runpytest_subprocess(*common, "-p", "no:aotperf", "--benchmark-json=without.json")
    assert with_plugin.parseoutcomes() == without.parseoutcomes() == {"passed": 3}
    assert with_plugin.ret == without.ret == 0

    def stats(name):
        return [
            (b["fullname"], b["stats"]["rounds"], b["stats"]["median"])
            for b in json.loads((bench_suite.path / name).read_text())["benchmarks"]
        ]

    assert stats("with.json") == stats("without.json")
    assert "aotperf" not in with_plugin.stdout.str().split("benchmark")[-1]
    assert not (bench_suite.path / "baselines").exists()
    help_with = bench_suite.runpytest("--help").stdout.str()
    help_without = bench_suite.runpytest("-p", "no:aotperf", "--help").stdout.str()
    assert benchmark_options(help_with) == benchmark_options(help_without) != []


def test_gated_benchmarks_are_judged_against_aotperf_baselines(bench_suite, monkeypatch):
    run(bench_suite, "--aot-gate-benchmarks", "--aot-refresh").assert_outcomes(passed=3)
    stored = json.loads((bench_suite.path / "baselines/m/none/test_bench.json").read_text())
    assert set(stored["tests"]) == {"test_sum", "test_work"}
    run(bench_suite, "--aot-gate-benchmarks").assert_outcomes(passed=3)
    monkeypatch.setenv("AOT_STEP_MS", "2")
    slower = run(bench_suite, "--aot-gate-benchmarks")
    slower.assert_outcomes(passed=1, failed=2)
    slower.stdout.fnmatch_lines(
        [
            "*test_sum (backend none): benchmark median 2.00 ms vs baseline 1.00 ms*",
            "*test_work (backend none): benchmark median 2.00 ms vs baseline 1.00 ms*",
        ]
    )
    run(bench_suite).assert_outcomes(passed=3)


def test_aot_benchmark_gates_its_test_without_the_option(bench_suite, monkeypatch):
    bench_suite.makepyfile(
        test_bench="from fakeclock import work\n\n\ndef test_sum(aot_benchmark):\n"
        "    aot_benchmark.pedantic(work, rounds=20)\n"
    )
    run(bench_suite, "--aot-refresh").assert_outcomes(passed=1)
    monkeypatch.setenv("AOT_STEP_MS", "2")
    run(bench_suite).assert_outcomes(failed=1)


def test_disabled_benchmarks_are_recorded_unavailable_not_zero(bench_suite):
    result = run(bench_suite, "--aot-gate-benchmarks", "--benchmark-disable", "--aot-report=r.json")
    result.assert_outcomes(passed=3)
    metric = json.loads((bench_suite.path / "r.json").read_text())["tests"][0]["metrics"]["benchmark"]
    assert "benchmark-disable" in metric["unavailable"] and "value" not in metric


def test_aotperf_timings_are_read_by_pytest_benchmark_compare(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_perf="def test_op(aot_backend, aot_perf):\n"
        "    aot_perf.measure(lambda: None)\n"
        "    aot_perf.record('compile_s', 2.5, unit='s', kind='duration')\n"
        "    aot_perf.record('throughput', 10.0, unit='items/s', better='higher')\n"
    )
    pytester.runpytest(
        "-p", "no:cacheprovider", "--aot-max-time=0.02", "--aot-benchmark-json=bench.json"
    ).assert_outcomes(passed=1)
    data = json.loads((pytester.path / "bench.json").read_text())
    by_name = {b["name"]: b for b in data["benchmarks"]}
    assert set(by_name) == {"test_op[eager]", "test_op[eager]:compile_s"}
    latency = by_name["test_op[eager]"]
    assert latency["fullname"] == "test_perf.py::test_op[eager]" and latency["group"] == "latency"
    assert latency["stats"]["median"] == 1e-3 and latency["stats"]["rounds"] == len(latency["stats"]["data"]) >= 20
    assert by_name["test_op[eager]:compile_s"]["stats"]["rounds"] == 1
    compare = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_benchmark",
            "compare",
            "--columns=median,rounds",
            str(pytester.path / "bench.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert compare.returncode == 0, compare.stderr
    assert "test_op[eager]" in compare.stdout
    assert re.search(r"test_op\[eager\]( \(\w+\))? +1(\.0000|,000\.0000) ", compare.stdout), (
        compare.stdout
    )  # 1 ms or 1,000 us
    assert "Failed to load" not in compare.stdout + compare.stderr


def test_synchronized_waits_for_the_gpu_only_on_cuda(monkeypatch):
    import torch

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: calls.append("sync"))
    assert synchronized(len, "cpu") is len
    assert synchronized(len, "cuda:0")([1, 2]) == 2 and calls == ["sync"]


def test_under_xdist_a_gated_benchmark_is_unavailable_and_says_why(bench_suite, monkeypatch):
    pytest.importorskip("xdist")
    monkeypatch.setenv("PYTHONPATH", str(bench_suite.path))  # the workers import fakeclock too
    result = bench_suite.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "xdist",
        "-n",
        "1",
        "--benchmark-timer=fakeclock.tick",
        "--aot-machine=m",
        "--aot-gate-benchmarks",
        "--aot-report=report.json",
    )
    result.assert_outcomes(passed=3)
    report = json.loads((bench_suite.path / "report.json").read_text())
    reasons = {test["test"]: test["metrics"]["benchmark"]["unavailable"] for test in report["tests"]}
    assert reasons == dict.fromkeys(
        ("test_sum", "test_work"),
        "pytest-benchmark did not time this test: it disables itself under xdist; run it without -n",
    )
