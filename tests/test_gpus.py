"""One GPU per xdist worker, and tensor-parallel results kept apart; all without a GPU."""

import json

import pytest
from fake_timer import CONFTEST
from test_plugin import run

from pytest_aotperf import gpus
from pytest_aotperf.backends.vllm import tensor_parallel_size
from pytest_aotperf.gpus import Assignment, GpuAssignmentError, assign_gpu
from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan
from pytest_aotperf.metrics import Metric
from pytest_aotperf.recorder import PerfRecorder


def test_not_under_xdist_nothing_changes():
    assert assign_gpu(None, 0, ("0", "1"), share=False) == gpus.UNCHANGED


def test_without_a_gpu_nothing_changes_whatever_the_workers():
    assert assign_gpu("gw3", 8, (), share=False) == gpus.UNCHANGED


@pytest.mark.parametrize("worker, expected", [("gw0", ("4", 0)), ("gw1", ("5", 1)), ("gw2", ("GPU-abc", 2))])
def test_each_worker_gets_its_own_visible_device(worker, expected):
    assignment = assign_gpu(worker, 3, ("4", "5", "GPU-abc", "7"), share=False)
    assert (assignment.device, assignment.index, assignment.shared) == (*expected, False)


def test_more_workers_than_gpus_is_an_error_naming_n_and_the_gpus():
    with pytest.raises(GpuAssignmentError, match=r"-n 3 starts 3 xdist workers but this machine has 2 GPUs \(0, 1\)"):
        assign_gpu("gw0", 3, ("0", "1"), share=False)


def test_shared_gpus_go_round_and_are_flagged():
    got = [assign_gpu(f"gw{k}", 5, ("0", "1"), share=True) for k in range(5)]
    assert [a.device for a in got] == ["0", "1", "0", "1", "0"]
    assert all(a.shared for a in got)
    assert not assign_gpu("gw1", 2, ("0", "1"), share=True).shared


@pytest.mark.parametrize("text, devices", [("0,1", ("0", "1")), (" 2 , 3,", ("2", "3")), ("", ()), ("-1", ())])
def test_cuda_visible_devices_is_read_as_the_visible_list(text, devices):
    assert gpus.visible_devices({"CUDA_VISIBLE_DEVICES": text}) == devices


def test_without_cuda_visible_devices_nvml_counts_the_gpus(monkeypatch):
    monkeypatch.setattr(gpus, "nvml_device_count", lambda: 2)
    assert gpus.visible_devices({}) == ("0", "1")


def test_a_worker_narrows_its_environment_to_its_gpu():
    environ = {"PYTEST_XDIST_WORKER": "gw1", "PYTEST_XDIST_WORKER_COUNT": "2", "CUDA_VISIBLE_DEVICES": "6,7"}
    assignment = gpus.apply_assignment(False, environ)
    assert environ["CUDA_VISIBLE_DEVICES"] == "7"
    assert assignment.record() == {"gpu_index": 1, "gpu_device": "7", "shared_gpu": False}
    outside = {"CUDA_VISIBLE_DEVICES": "6,7"}
    assert gpus.apply_assignment(False, outside) == gpus.UNCHANGED and outside["CUDA_VISIBLE_DEVICES"] == "6,7"


def test_shared_gpu_flags_timings_only():
    metrics = (
        Metric("latency", "s", "lower", "timing", value=1e-3, flags=("throttled",)),
        Metric("compile_s", "s", "lower", "duration", value=2.0),
        Metric("peak_memory", "B", "lower", "memory", value=1.0),
    )
    flagged = gpus.flag_shared(metrics, Assignment("0", 0, shared=True))
    assert [m.flags for m in flagged] == [("throttled", "shared-gpu"), ("shared-gpu",), ()]
    assert gpus.flag_shared(metrics, Assignment("0", 0, shared=False)) == metrics


def recorded_llm(options):
    recorder = PerfRecorder("t", "cpu", CpuTimer(), SamplingPlan(), backend="vllm")
    recorder.configure_llm({}, tensor_parallel_size(options))
    return recorder.finish()


def test_tensor_parallel_results_are_kept_under_their_own_backend():
    recorded = recorded_llm({"tensor_parallel_size": 2, "max_model_len": 256})
    assert recorded.config == {"llm": {}, "tensor_parallel_size": 2}
    assert recorded.baseline_key == "vllm-tp2"
    for single in (recorded_llm({"tensor_parallel_size": 1}), recorded_llm({})):
        assert single.config == {"llm": {}} and single.baseline_key == "vllm"


def test_a_tensor_parallel_test_stores_its_baseline_apart(pytester):
    """The plugin keys a test by the parallel size its recorder's configuration holds."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_perf="""
def test_tp(aot_backend, aot_perf):
    aot_perf.configure_llm({}, tensor_parallel_size=2)
    aot_perf.measure(lambda: None)
"""
    )
    run(pytester, "--aot-refresh").assert_outcomes(passed=1)
    assert (pytester.path / "baselines" / "test-machine" / "eager-tp2" / "test_perf.json").exists()
    assert not (pytester.path / "baselines" / "test-machine" / "eager").exists()


MODULE = """
import os

def test_a(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)

def test_b(aot_backend, aot_perf):
    aot_perf.measure(lambda: None)
"""


@pytest.fixture
def suite(pytester):
    pytest.importorskip("xdist")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_perf=MODULE)
    return pytester


def parallel(pytester, *args):
    return run(pytester, "-p", "xdist", "-n", "2", "-p", "no:benchmark", *args)


def test_more_xdist_workers_than_gpus_is_a_usage_error(suite, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    result = parallel(suite)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*aotperf: -n 2 starts 2 xdist workers but this machine has 1 GPU (0)*"])


def test_xdist_workers_take_their_own_or_shared_gpus(suite, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    parallel(suite, "--aot-report=own.json", "--dist=each").assert_outcomes(passed=4)
    tests = json.loads((suite.path / "own.json").read_text())["tests"]
    assert sorted(t["config"]["gpu_device"] for t in tests) == ["3", "3", "5", "5"]
    assert not any(t["config"]["shared_gpu"] for t in tests)

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    parallel(suite, "--aot-share-gpus", "--aot-report=shared.json").assert_outcomes(passed=2)
    tests = json.loads((suite.path / "shared.json").read_text())["tests"]
    assert all(t["config"]["gpu_device"] == "3" and t["config"]["shared_gpu"] for t in tests)
    assert all("shared-gpu" in t["metrics"]["latency"]["flags"] for t in tests)
