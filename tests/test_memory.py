"""Memory per test, on recorded readings; and the host probe's process tree."""

import os
import subprocess
import sys
import time
from types import SimpleNamespace

import psutil
import pytest

from pytest_aotperf.llm.engine_cache import BUILD_PREFIX, EngineCache
from pytest_aotperf.measure.memory import COMPILE_WORKERS, _tree_usage, process_tree
from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan
from pytest_aotperf.memory_monitor import (
    ABSOLUTE,
    GPU_DEVICE_USED,
    GPU_PEAK_ALLOCATED,
    GPU_PEAK_RESERVED,
    HOST_PEAK_RSS,
    MEMORY_METRICS,
    NO_RSS_RESET,
    NO_TORCH_CUDA,
    MemoryMonitor,
)
from pytest_aotperf.recorder import PerfRecorder


def test_process_tree_has_the_children_but_not_inductors_compile_workers_or_zombies():
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    child = subprocess.Popen(sleeper)
    worker = subprocess.Popen([*sleeper, os.path.join("torch", COMPILE_WORKERS, "__main__.py")])
    try:
        while psutil.Process(ended.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.01)
        tree = process_tree()
        assert tree[0] == os.getpid()
        assert child.pid in tree and worker.pid not in tree and ended.pid not in tree
    finally:
        for process in (child, worker, ended):
            process.kill()
            process.wait()


class Recorded:
    """MemoryReadings as a test scripts them: what is held when the test starts, the peaks at its end."""

    def __init__(self, torch_start=(0, 0), torch_peaks=(0, 0), nvml=(), host_start=0, host_peak=0):
        self.torch_start, self.peaks, self.host_start, self.peak_rss = torch_start, torch_peaks, host_start, host_peak
        self.nvml = list(nvml) or [(None, "", "NVML not installed")]

    def reset_torch(self):
        return self.torch_start

    def torch_peaks(self):
        return self.peaks

    def nvml_used(self):
        return self.nvml.pop(0) if len(self.nvml) > 1 else self.nvml[0]

    def reset_host(self):
        return self.host_start

    def host_peak(self):
        return self.peak_rss, {"source": "recorded"}


MiB = 2**20


def read(readings, use_cuda=True):
    monitor = MemoryMonitor(use_cuda=use_cuda, readings=readings)
    monitor.start()
    return {m.name: m for m in monitor.finish()}


def test_a_test_reads_the_same_whatever_the_process_held_when_it_began():
    """The same test, alone and after other backends left 3 GiB of models and caches behind."""
    alone = Recorded(
        (0, 0),
        (100 * MiB, 120 * MiB),
        [(500 * MiB, "nvml-process-tree", None), (650 * MiB, "nvml-process-tree", None)],
        400 * MiB,
        900 * MiB,
    )
    held = 3 * 2**30
    after = Recorded(
        (held, held),
        (held + 100 * MiB, held + 120 * MiB),
        [(held + 500 * MiB, "nvml-process-tree", None), (held + 650 * MiB, "nvml-process-tree", None)],
        held + 400 * MiB,
        held + 900 * MiB,
    )
    first, later = read(alone), read(after)
    for name in MEMORY_METRICS:
        assert first[name].value == later[name].value, name
        assert not first[name].informational and first[name + ABSOLUTE].informational
    assert first[GPU_PEAK_ALLOCATED].value == 100 * MiB and first[GPU_DEVICE_USED].value == 150 * MiB
    assert first[HOST_PEAK_RSS].value == 500 * MiB
    assert later[HOST_PEAK_RSS + ABSOLUTE].value == held + 900 * MiB
    assert dict(later[GPU_PEAK_RESERVED].context)["held_at_start"] == held


def test_without_cuda_or_a_resettable_peak_mark_the_per_test_metrics_say_why():
    metrics = read(Recorded(host_start=None, host_peak=900 * MiB), use_cuda=False)
    assert metrics[GPU_PEAK_ALLOCATED].unavailable == NO_TORCH_CUDA
    assert metrics[GPU_DEVICE_USED].unavailable == "NVML not installed"
    assert metrics[HOST_PEAK_RSS].unavailable == NO_RSS_RESET
    assert metrics[HOST_PEAK_RSS + ABSOLUTE].value == 900 * MiB


def test_nvml_readings_of_different_sources_are_not_subtracted():
    readings = Recorded(nvml=[(1 * MiB, "nvml-process-tree", None), (9 * 2**30, "nvml-device", None)])
    metrics = read(readings)
    assert "at the start and nvml-device at the end" in metrics[GPU_DEVICE_USED].unavailable
    assert metrics[GPU_DEVICE_USED + ABSOLUTE].value == 9 * 2**30


def test_a_backends_own_memory_metric_replaces_the_monitors_and_its_absolute_companion():
    recorder = PerfRecorder("t", "cpu", CpuTimer(), SamplingPlan(), memory=MemoryMonitor(False, Recorded()))
    recorder.record("gpu_peak_allocated", 5 * MiB, unit="B", kind="memory", source="worker")
    names = {m.name for m in recorder.finish().metrics}
    assert GPU_PEAK_ALLOCATED in names and GPU_PEAK_ALLOCATED + ABSOLUTE not in names
    assert HOST_PEAK_RSS in names and HOST_PEAK_RSS + ABSOLUTE in names


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_host_probe_sees_what_a_test_allocates_beyond_what_was_held():
    monitor = MemoryMonitor(use_cuda=False)
    monitor.start()
    block = bytes(range(256)) * (64 * MiB // 256)  # written, so resident
    metrics = {m.name: m for m in monitor.finish()}
    del block
    if metrics[HOST_PEAK_RSS].unavailable:
        pytest.skip(metrics[HOST_PEAK_RSS].unavailable)
    assert 60 * MiB <= metrics[HOST_PEAK_RSS].value < metrics[HOST_PEAK_RSS + ABSOLUTE].value


def test_a_restart_takes_what_is_held_then_as_the_start():
    """The aot_llm fixture restarts the test's memory once the engine is in hand (built or shared)."""
    nvml = [(100 * MiB, "nvml-process-tree", None), (700 * MiB, "nvml-process-tree", None)]
    readings = Recorded(nvml=nvml + [(800 * MiB, "nvml-process-tree", None)], host_start=100 * MiB, host_peak=900 * MiB)
    monitor = MemoryMonitor(False, readings)
    recorder = PerfRecorder("t", "cpu", CpuTimer(), SamplingPlan(), memory=monitor)
    monitor.start()
    readings.host_start = 700 * MiB  # the engine was built
    recorder.restart_memory()
    metrics = {m.name: m for m in recorder.finish().metrics}
    assert metrics[HOST_PEAK_RSS].value == 200 * MiB and metrics[GPU_DEVICE_USED].value == 100 * MiB


class Engine:
    def shutdown(self):
        pass


def test_an_engines_build_memory_is_the_same_for_every_test_that_uses_it():
    readings = Recorded((0, 0), (2 * 2**30, 3 * 2**30), host_start=100 * MiB, host_peak=600 * MiB)
    cache = EngineCache(lambda model, options: Engine(), lambda: MemoryMonitor(True, readings))
    _, built = cache.get("tiny-llama", {})
    first = {m.name: m for m in cache.build_memory}
    assert built and set(first) == {BUILD_PREFIX + name for name in MEMORY_METRICS}
    assert first["build_gpu_peak_allocated"].value == 2 * 2**30 and first["build_host_peak_rss"].value == 500 * MiB
    assert first["build_gpu_device_used"].unavailable == "NVML not installed"
    readings.peak_rss = 5 * 2**30  # a later test's peak does not change the build's
    _, built = cache.get("tiny-llama", {})
    assert not built and {m.name: m for m in cache.build_memory} == first
    cache.close()
    assert cache.build_memory == ()


def test_nvml_usage_is_counted_for_this_process_tree_only():
    listed = [
        SimpleNamespace(pid=os.getpid(), usedGpuMemory=512 * MiB),
        SimpleNamespace(pid=os.getppid(), usedGpuMemory=9 * 2**30),  # our parent: not of our tree
        SimpleNamespace(pid=os.getpid(), usedGpuMemory=None),  # NVML without the right to read it
    ]
    assert _tree_usage(listed[:2]) == {os.getpid(): 512 * MiB}
    assert _tree_usage(listed[1:]) == {}
