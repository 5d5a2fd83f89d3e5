"""PerfRecorder.standalone: a recorder for measuring outside pytest, with the defaults a script wants."""

import torch

from pytest_aotperf.measure.timing import SamplingPlan
from pytest_aotperf.memory_monitor import HOST_PEAK_RSS, MEMORY_METRICS
from pytest_aotperf.recorder import PerfRecorder

PLAN = SamplingPlan(warmup_s=0, min_warmup=1, min_samples=5, max_samples=5, max_time_s=1.0)


class ExactTimer:
    """One millisecond per call, whatever the call."""

    def time_calls(self, fn, count, between=None, block=1):
        for _ in range(count * block):
            fn()
        return [1e-3] * count


def test_the_device_is_cuda_where_torch_sees_one_else_cpu():
    assert PerfRecorder.standalone("t").device == ("cuda" if torch.cuda.is_available() else "cpu")


def test_it_samples_by_the_plan_with_the_timer_given():
    recorder = PerfRecorder.standalone("t", "cpu", plan=PLAN, timer=ExactTimer())
    latency = recorder.measure(lambda: None)
    assert latency.value == 1e-3 and latency.summary.n == 5
    assert recorder.test_id == "t"


def test_without_a_timer_the_device_s_own_times_it():
    latency = PerfRecorder.standalone("t", "cpu", plan=PLAN).measure(lambda: sum(range(100)))
    assert latency.value > 0 and latency.summary.n == 5


def test_one_tolerance_serves_every_metric():
    assert PerfRecorder.standalone("t", "cpu", tolerance=0.02).tolerance_for("gpu_time") == 0.02
    assert PerfRecorder.standalone("t", "cpu").tolerance_for("latency") is None


def test_memory_is_recorded_only_when_asked():
    with_memory = {m.name for m in PerfRecorder.standalone("t", "cpu", memory=True).finish().metrics}
    assert HOST_PEAK_RSS in with_memory
    assert not {m.name for m in PerfRecorder.standalone("t", "cpu").finish().metrics} & set(MEMORY_METRICS)
