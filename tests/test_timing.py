"""The sampling loop and the recorder, on an injected clock."""

import re

import pytest

from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan, sample
from pytest_aotperf.recorder import RECOMPILED, PerfRecorder, derived_name


class StepClock:
    """A perf_counter_ns stand-in: every call returns `step` ns more than the last."""

    def __init__(self, step):
        self.now, self.step = 0, step

    def __call__(self):
        self.now += self.step
        return self.now


def test_cpu_timer_reads_the_clock_around_each_call():
    calls = []
    samples = CpuTimer(StepClock(1000)).time_calls(lambda: calls.append(1), 5)
    assert samples == [1e-6] * 5 and len(calls) == 5


def test_sample_warms_up_then_fits_the_budget():
    plan = SamplingPlan(warmup_s=0.0, min_warmup=3, min_samples=10, max_samples=1000, max_time_s=0.5)
    calls = []
    timed = sample(lambda: calls.append(1), CpuTimer(StepClock(1_000_000)), plan)
    assert len(timed.samples) == 500
    assert len(calls) == 3 + 500
    assert timed.graphs_compiled == 0


def test_warm_up_hands_the_timer_doubling_chunks_of_back_to_back_calls():
    chunks = []

    class MillisecondTimer:
        def time_calls(self, fn, count, between=None, block=1):
            chunks.append(count)
            return [1e-3] * count

    plan = SamplingPlan(warmup_s=0.0065, min_warmup=3, min_samples=5, max_samples=100, max_time_s=0.01)
    sample(lambda: None, MillisecondTimer(), plan)
    assert chunks == [1, 2, 4, 10]


@pytest.mark.parametrize("estimate, count", [(1.0, 10), (1e-9, 1000), (0.01, 50)])
def test_sample_count_is_bounded(estimate, count):
    assert SamplingPlan(min_samples=10, max_samples=1000, max_time_s=0.5).sample_count(estimate) == count


def test_measure_records_a_timing_with_summary():
    recorder = PerfRecorder(
        "t",
        "cpu",
        CpuTimer(StepClock(2000), min_block_s=0),
        SamplingPlan(warmup_s=0, min_samples=20, max_time_s=1.01e-4),
    )
    metric = recorder.measure(lambda x: x, 1)
    assert metric.name == "latency" and metric.unit == "s" and metric.better == "lower"
    assert metric.value == pytest.approx(2e-6)
    assert metric.summary.n == 50 and metric.flags == ()


def test_measure_stops_once_the_median_is_tight_for_the_tests_tolerance():
    asked = []

    def tolerance(name, kind):
        asked.append((name, kind))
        return 0.10

    recorder = PerfRecorder(
        "t",
        "cpu",
        CpuTimer(StepClock(2000), min_block_s=0),
        SamplingPlan(warmup_s=0, min_samples=20, max_time_s=1.0),
        tolerance=tolerance,
    )
    assert recorder.measure(lambda: None).summary.n == 20
    assert asked == [("latency", "timing")]
    assert recorder.tolerance_for("tpot") == 0.10 and asked[-1] == ("tpot", "timing")


def test_measure_overrides_per_call():
    recorder = PerfRecorder("t", "cpu", CpuTimer(StepClock(1000), min_block_s=0), SamplingPlan(warmup_s=0))
    assert recorder.measure(lambda: None, name="tiny", min_samples=7, max_samples=7).summary.n == 7


@pytest.mark.parametrize(
    "arguments, refused",
    [
        ({"warmup": float("nan")}, "warmup=nan"),
        ({"warmup": -1.0}, "warmup=-1.0"),
        ({"max_time": float("inf")}, "max_time=inf"),
        ({"max_time": 0}, "max_time=0"),
        ({"min_samples": 0}, "min_samples=0"),
        ({"min_samples": 2.5}, "min_samples=2.5"),
        ({"max_samples": True}, "max_samples=True"),
    ],
)
def test_measure_refuses_arguments_that_cannot_sample_naming_the_test(arguments, refused):
    recorder = PerfRecorder("test_x", "cpu", CpuTimer(StepClock(1000), min_block_s=0), SamplingPlan(warmup_s=0))
    with pytest.raises(ValueError, match=rf"^test_x: {re.escape(refused)}: give a"):
        recorder.measure(lambda: None, **arguments)


def test_recompilation_while_timed_is_flagged():
    graphs = iter([0, 1])
    recorder = PerfRecorder(
        "t",
        "cpu",
        CpuTimer(StepClock(1000), min_block_s=0),
        SamplingPlan(warmup_s=0, min_samples=5, max_samples=5),
        graph_count=lambda: next(graphs),
    )
    metric = recorder.measure(lambda: None)
    assert RECOMPILED in metric.flags
    assert dict(metric.context)["graphs_compiled_while_timed"] == 1
    recompilations = {m.name: m for m in recorder.metrics}["recompilations"]
    assert (recompilations.value, recompilations.kind) == (1.0, "count")


def test_metrics_a_measurement_derives_are_named_after_it():
    assert derived_name("latency", "gpu_time") == "gpu_time"
    assert derived_name("prefill", "gpu_time") == "prefill_gpu_time"


def test_each_metric_is_recorded_once():
    recorder = PerfRecorder("test_x", "cpu", CpuTimer(), SamplingPlan())
    recorder.record("throughput", 10.0, unit="tokens/s", better="higher")
    with pytest.raises(ValueError, match="test_x: metric 'throughput' was already recorded"):
        recorder.record("throughput", 11.0)


def test_unavailable_metrics_carry_the_reason():
    recorder = PerfRecorder("t", "cpu", CpuTimer(), SamplingPlan())
    metric = recorder.record_unavailable("gpu_peak_allocated", "no CUDA device", unit="B", kind="memory")
    assert metric.value is None and metric.unavailable == "no CUDA device"


def test_fast_functions_are_timed_in_blocks():
    calls = []
    timer = CpuTimer(StepClock(1000), min_block_s=20e-6)
    assert timer.block_for(1e-6) == 20 and timer.block_for(1e-3) == 1
    samples = timer.time_calls(lambda: calls.append(1), 3, block=20)
    assert len(calls) == 60 and samples == pytest.approx([1000 / 20 / 1e9] * 3)
