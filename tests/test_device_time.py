"""Device time beside latency, on a simulated GPU timeline: exact, and no CUDA needed."""

from types import SimpleNamespace

import pytest

from pytest_aotperf.measure.device_time import (
    ATTEMPTS,
    FIRST_SLEEP_S,
    LAUNCH_QUEUE_OPERATIONS,
    SLEEP_MARGIN,
    DeviceProbe,
    DeviceTimer,
    calls_per_block,
)
from pytest_aotperf.measure.host_work import HostWork
from pytest_aotperf.measure.kernels import KernelProfile, device_work
from pytest_aotperf.measure.timing import SamplingPlan
from pytest_aotperf.recorder import HOST_OUTRAN, NO_DEVICE_TIME, PerfRecorder
from pytest_aotperf.verdict import INFO, judge

HOST_S, DEVICE_S = 30e-6, 17e-6
"""A launch-bound model: the host takes longer to launch a call than the GPU to run it."""


class FakeGpu:
    """One stream: work runs in queue order, each item from when it is queued or the GPU is free, whichever
    is later. Implements the device timer's CudaOps; `call` is the model, `clock` the host's clock."""

    def __init__(self, host_s=HOST_S, device_s=DEVICE_S, hz=2e9):
        self.host_s, self.device_s, self.hz = host_s, device_s, hz
        self.host_now = self.gpu_free = 0.0
        self.calls = 0

    def _queue(self, duration):
        start = max(self.gpu_free, self.host_now)
        self.gpu_free = start + duration
        return self.gpu_free

    def call(self):
        self.host_now += self.host_s
        self._queue(self.device_s)
        self.calls += 1

    def clock(self):
        return self.host_now

    def sleep(self, cycles):
        self._queue(cycles / self.hz)

    def record(self):
        return self._queue(0.0)

    def elapsed_s(self, start, end):
        return end - start

    def synchronize(self):
        self.host_now = max(self.host_now, self.gpu_free)


def per_call_events(gpu, count):
    """What an event pair around each call reads (CudaEventTimer)."""
    times = []
    for _ in range(count):
        start = gpu.record()
        gpu.call()
        times.append(gpu.elapsed_s(start, gpu.record()))
    return times


def test_events_around_each_call_time_the_host_when_it_is_slower_than_the_gpu():
    assert per_call_events(FakeGpu(), 10)[1:] == pytest.approx([HOST_S] * 9)


def test_calls_queued_behind_a_sleep_time_the_device_alone():
    gpu = FakeGpu()
    timer = DeviceTimer(gpu, host_clock=gpu.clock)
    assert timer.time_calls(gpu.call, 5, block=100) == pytest.approx([DEVICE_S] * 5)
    assert timer.cycles_per_s() == pytest.approx(2e9)
    assert (timer.retaken, timer.outran) == (0, 0)


def test_the_sleep_follows_the_longest_issue_time_seen():
    gpu = FakeGpu()
    timer = DeviceTimer(gpu, host_clock=gpu.clock)
    assert timer.sleep_s(100) == FIRST_SLEEP_S
    timer.time_calls(gpu.call, 1, block=100)
    assert timer.sleep_s(100) == pytest.approx(SLEEP_MARGIN * HOST_S * 100)


def test_a_block_issued_slower_than_its_sleep_is_taken_again_with_a_longer_sleep():
    gpu = FakeGpu(host_s=1e-3)  # 100 calls take 100 ms to issue: longer than the first sleep
    timer = DeviceTimer(gpu, host_clock=gpu.clock)
    assert timer.time_calls(gpu.call, 1, block=100) == pytest.approx([DEVICE_S])
    assert (timer.retaken, timer.outran, gpu.calls) == (1, 0, 200)


def test_a_sleep_shortened_by_the_gpus_clock_ramping_up_is_timed_and_the_block_taken_again():
    """Calibrated at an idle clock (345 MHz), run at the boost clock (1980 MHz): the sleep in cycles is 5.7
    times shorter than meant. Held against the sleep's own event pair, the block is taken again."""
    gpu = FakeGpu(hz=345e6)
    timer = DeviceTimer(gpu, host_clock=gpu.clock)
    timer.cycles_per_s()
    gpu.hz = 1980e6  # 1000 calls take 30 ms to issue: less than the 50 ms meant, more than the 8.7 ms slept
    assert timer.time_calls(gpu.call, 3, block=1000) == pytest.approx([DEVICE_S] * 3)
    assert timer.retaken == 1 and timer.outran == 0 and timer.cycles_per_s() == pytest.approx(1980e6)


def slowing_host():
    """Host clock readings around blocks whose issue takes 1 s, then 4 s, 16 s, ...: more than any sleep."""
    now, step = 0.0, 1.0
    while True:
        yield now
        now += step
        yield now
        step *= 4


def test_a_host_that_outruns_every_sleep_is_counted():
    gpu = FakeGpu()
    timer = DeviceTimer(gpu, host_clock=slowing_host().__next__)
    timer.time_calls(gpu.call, 1, block=10)
    assert (timer.retaken, timer.outran, gpu.calls) == (ATTEMPTS - 1, 1, 10 * ATTEMPTS)


@pytest.mark.parametrize("operations, block", [(0, 512), (1, 512), (8, 64), (600, 1)])
def test_a_block_fits_the_launch_queue(operations, block):
    assert LAUNCH_QUEUE_OPERATIONS == 512 and calls_per_block(operations) == block


def test_the_probe_sizes_blocks_from_the_profile_and_stops_once_tight():
    gpu = FakeGpu()
    profiled = []

    def profile(fn):
        profiled.append(fn)
        return KernelProfile(kernels=5, copies=3, kernel_s=16e-6)

    probe = DeviceProbe(DeviceTimer(gpu, host_clock=gpu.clock), profile)
    device = probe.measure(gpu.call, SamplingPlan(min_samples=10), latency_s=HOST_S, tolerance=0.1)
    assert profiled == [gpu.call] and device.calls_per_sample == 64
    assert device.samples == pytest.approx([DEVICE_S] * 10)


def test_with_an_l2_flush_every_sample_is_one_call_after_the_flush():
    gpu, flushes = FakeGpu(), []
    probe = DeviceProbe(DeviceTimer(gpu, host_clock=gpu.clock), lambda fn: KernelProfile(5, 0, 0.0))
    device = probe.measure(gpu.call, SamplingPlan(min_samples=4), HOST_S, 0.1, between=lambda: flushes.append(1))
    assert device.calls_per_sample == 1 and len(flushes) == len(device.samples) == 4


def test_profiler_events_count_kernels_and_copies_apart_from_annotations():
    def event(kind, us):
        return SimpleNamespace(activity_type=kind, time_range=SimpleNamespace(elapsed_us=lambda: us))

    events = [event("kernel", 3.0), event("gpu_memcpy", 1.0), event("kernel", 2.0), event("gpu_memset", 1.0)]
    events += [event("gpu_user_annotation", 50.0), event("cuda_runtime", 4.0), event("cpu_op", 9.0)]
    assert device_work(events) == KernelProfile(kernels=2, copies=2, kernel_s=pytest.approx(5e-6))


def test_profiler_events_of_torch_before_2_12_are_told_apart_by_device_annotation_and_name():
    cuda, cpu = SimpleNamespace(name="CUDA"), SimpleNamespace(name="CPU")

    def event(name, device, us, annotation=False):
        elapsed = SimpleNamespace(elapsed_us=lambda: us)
        return SimpleNamespace(name=name, device_type=device, is_user_annotation=annotation, time_range=elapsed)

    events = [event("sm90_xmma_gemm", cuda, 3.0), event("Memcpy DtoD (Device -> Device)", cuda, 1.0)]
    events += [event("triton_poi_fused_add_0", cuda, 2.0), event("Memset (Device)", cuda, 1.0)]
    events += [event("## Call CompiledFxGraph ##", cuda, 50.0, annotation=True), event("cudaLaunchKernel", cpu, 4.0)]
    assert device_work(events) == KernelProfile(kernels=2, copies=2, kernel_s=pytest.approx(5e-6))


HOST_WORK = HostWork(aten_ops=7, runtime_calls=5, python_calls=12)


def recorder_on(gpu, probe):
    timer = SimpleNamespace(time_calls=lambda fn, count, between=None, block=1: per_call_events(gpu, count))
    plan = SamplingPlan(warmup_s=0, min_samples=10, max_samples=10)
    return PerfRecorder("t", "cuda", timer, plan, device_probe=probe, host_work=lambda call, on_cuda: HOST_WORK)


def test_measure_records_device_time_kernels_and_host_overhead_beside_latency():
    gpu = FakeGpu()
    probe = DeviceProbe(DeviceTimer(gpu, host_clock=gpu.clock), lambda fn: KernelProfile(4, 1, 16e-6))
    recorder = recorder_on(gpu, probe)
    latency = recorder.measure(gpu.call)
    metrics = {m.name: m for m in recorder.metrics}
    assert latency.value == pytest.approx(HOST_S) and metrics["gpu_time"].value == pytest.approx(DEVICE_S)
    assert dict(metrics["gpu_time"].context)["profiler_kernel_s"] == 16e-6
    kernels = metrics["kernels_per_call"]
    assert (kernels.value, kernels.kind, dict(kernels.context)) == (4.0, "count", {"copies": 1})
    overhead = metrics["host_overhead"]
    assert overhead.value == pytest.approx(HOST_S - DEVICE_S) and overhead.informational
    assert judge(overhead, overhead.stored(), 0.1).status == INFO
    assert latency.host_speed and not metrics["gpu_time"].host_speed  # the device's time is a small part of it
    counts = {name: metrics[name].value for name in metrics if name.endswith("calls_per_call") or "ops" in name}
    assert counts == {"aten_ops_per_call": 7, "cuda_runtime_calls_per_call": 5, "python_calls_per_call": 12}


def test_a_device_time_above_the_latency_leaves_host_overhead_unavailable_with_the_reason():
    gpu = FakeGpu(host_s=10e-6, device_s=17e-6)  # device-bound: events around each call time the device too
    probe = DeviceProbe(DeviceTimer(gpu, host_clock=gpu.clock), lambda fn: KernelProfile(4, 0, 0.0))
    recorder = recorder_on(gpu, probe)
    recorder.measure(gpu.call)
    metrics = {m.name: m for m in recorder.metrics}
    assert metrics["gpu_time"].value > metrics["latency"].value  # the per-call events time the sleep's tail too
    assert not metrics["latency"].host_speed  # device-bound: judged by the tolerance as before
    assert metrics["host_overhead"].unavailable == (
        "device time per call (17.0 µs) above what a caller waits (17.0 µs): a device-bound call whose host "
        "overhead is within the noise"
    )


def test_a_device_time_the_host_outran_is_flagged():
    gpu = FakeGpu()
    probe = DeviceProbe(DeviceTimer(gpu, host_clock=slowing_host().__next__), lambda fn: KernelProfile(4, 0, 0.0))
    recorder = recorder_on(gpu, probe)
    recorder.measure(gpu.call, name="step")
    assert HOST_OUTRAN in {m.name: m for m in recorder.metrics}["step_gpu_time"].flags


def test_without_cuda_device_metrics_are_unavailable_with_the_reason():
    recorder = PerfRecorder("t", "cpu", SimpleNamespace(time_calls=lambda *a, **k: [1e-3] * a[1]), SamplingPlan())
    recorder.measure(lambda: None)
    metrics = {m.name: m for m in recorder.metrics}
    assert metrics["gpu_time"].unavailable == NO_DEVICE_TIME
    assert metrics["kernels_per_call"].unavailable.startswith("no CUDA device: kernel launches are counted")
    assert metrics["host_overhead"].unavailable == NO_DEVICE_TIME
