"""Memory probes for one test: torch's GPU peaks, NVML device memory, and peak host RSS.

Each is judged as the test's own: its peak over the test less what was held when the test began,
so that a test reads the same alone, first, or after other backends left models and caches in the
process. The absolute peak is kept beside it (`<name>_absolute`) as information. Each probe gives
Metrics, unavailable with the reason where the machine cannot measure it.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Protocol, Tuple

from ..metrics import Metric
from .nvml import nvml_device

GPU_PEAK_ALLOCATED = "gpu_peak_allocated"
GPU_PEAK_RESERVED = "gpu_peak_reserved"
GPU_DEVICE_USED = "gpu_device_used"
HOST_PEAK_RSS = "host_peak_rss"
MEMORY_METRICS = (GPU_PEAK_ALLOCATED, GPU_PEAK_RESERVED, GPU_DEVICE_USED, HOST_PEAK_RSS)
ABSOLUTE = "_absolute"
"""Suffix of the informational absolute peak beside each per-test metric: `host_peak_rss_absolute`."""
NO_TORCH_CUDA = "no CUDA device: torch's GPU memory counters need one"
NO_RSS_RESET = (
    "the peak-RSS mark cannot be reset here (/proc/PID/clear_refs): without it the peak is the process "
    "lifetime's, not the test's"
)


def memory_metric(
    name: str,
    value: Optional[float] = None,
    unavailable: Optional[str] = None,
    informational: bool = False,
    context: Optional[Mapping[str, object]] = None,
) -> Metric:
    return Metric(
        name=name,
        unit="B",
        better="lower",
        kind="memory",
        value=value,
        unavailable=unavailable,
        context=tuple(sorted((context or {}).items())),
        informational=informational,
    )


def per_test(
    name: str, start: Optional[int], peak: Optional[int], reason: Optional[str] = None, **context: object
) -> Tuple[Metric, ...]:
    """The test's own peak (`peak` less `start`, judged) and the absolute `peak` (informational).

    Without a start reading the per-test metric is unavailable for `reason`, the absolute one still shown;
    without a peak reading, the per-test one alone says why (the absolute one would repeat it).
    """
    if peak is None:
        return (memory_metric(name, unavailable=reason or "no reading"),)
    absolute = memory_metric(name + ABSOLUTE, float(peak), informational=True, context=context)
    if start is None:
        return memory_metric(name, unavailable=reason or "no reading"), absolute
    own = memory_metric(name, float(max(0, peak - start)), context={**context, "held_at_start": start})
    return own, absolute


def absolute_of(name: str) -> Optional[str]:
    """The per-test metric an absolute one stands beside (`host_peak_rss` for `host_peak_rss_absolute`)."""
    return name[: -len(ABSOLUTE)] if name.endswith(ABSOLUTE) else None


COMPILE_WORKERS = os.path.join("_inductor", "compile_worker")
"""In the command line of Inductor's compile-worker pool: a pool that outlives the test that started it."""


def process_tree() -> List[int]:
    """This process and its descendants (an engine process, say), without Inductor's compile workers.

    The workers (one per core, each a torch import) start with the first big compile and serve
    every later one: counting them would charge whichever test happened to start them.
    """
    try:
        import psutil
    except ImportError:
        return [os.getpid()]

    def counted(child: "psutil.Process") -> bool:
        try:
            return not any(COMPILE_WORKERS in part for part in child.cmdline())
        except psutil.Error:
            return False  # ended (a zombie not yet reaped holds no memory either)

    def tree(process: "psutil.Process") -> List[int]:
        try:
            children = [child for child in process.children() if counted(child)]
        except psutil.Error:
            children = []  # it ended meanwhile
        return [process.pid] + [pid for child in children for pid in tree(child)]

    return tree(psutil.Process())


class MemoryReadings(Protocol):
    """The machine's memory counters, in bytes: the system's (SystemReadings), or recorded ones in tests."""

    def reset_torch(self) -> Tuple[int, int]:
        """Empty torch's cache of free GPU blocks, reset its peaks; (allocated, reserved) now."""

    def torch_peaks(self) -> Tuple[int, int]:
        """(allocated, reserved) peaks since the reset."""

    def nvml_used(self) -> Tuple[Optional[int], str, Optional[str]]:
        """(GPU memory of this process tree, source, why there is no reading)."""

    def reset_host(self) -> Optional[int]:
        """Reset the tree's peak-RSS marks; the RSS held now, or None where the marks cannot be reset."""

    def host_peak(self) -> Tuple[int, Dict[str, object]]:
        """The tree's peak RSS (new processes included) and how it was read."""


class SystemReadings:
    """MemoryReadings of this machine: torch's CUDA allocator, NVML, /proc."""

    def reset_torch(self) -> Tuple[int, int]:
        import torch

        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated(), torch.cuda.memory_reserved()

    def torch_peaks(self) -> Tuple[int, int]:
        import torch

        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()

    def nvml_used(self) -> Tuple[Optional[int], str, Optional[str]]:
        return _nvml_used()

    def reset_host(self) -> Optional[int]:
        _trim_heap()
        tree = process_tree()
        if not all([_reset_peak_rss(pid) for pid in tree]):
            return None
        held = [_proc_status_bytes(pid, "VmRSS:") for pid in tree]
        return sum(h for h in held if h is not None)

    def host_peak(self) -> Tuple[int, Dict[str, object]]:
        peaks = [p for p in (_proc_status_bytes(pid, "VmHWM:") for pid in process_tree()) if p is not None]
        if not peaks:
            import resource

            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return maxrss * 1024, {"source": "getrusage (process lifetime)"}
        return sum(peaks), {"source": "VmHWM over the process tree", "processes": len(peaks)}


class MemoryMonitor:
    """Started when a test begins (what is held then), polled at checkpoints, read when it ends."""

    def __init__(self, use_cuda: bool, readings: Optional[MemoryReadings] = None) -> None:
        self._use_cuda = use_cuda
        self._readings: MemoryReadings = readings or SystemReadings()
        self._torch_start: Optional[Tuple[int, int]] = None
        self._host_start: Optional[int] = None
        self._nvml_start: Optional[Tuple[int, str]] = None
        self._nvml_peak: Optional[int] = None
        self._nvml_source = ""
        self._nvml_reason: Optional[str] = None

    def start(self) -> None:
        """Take what is held now as the start (again, when called again); the peaks count from here."""
        self._nvml_peak = None
        readings = self._readings
        if self._use_cuda:
            self._torch_start = readings.reset_torch()
        self._host_start = readings.reset_host()
        self.checkpoint()
        if self._nvml_peak is not None:
            self._nvml_start = (self._nvml_peak, self._nvml_source)

    def checkpoint(self) -> None:
        """Read NVML now; device memory is sampled at checkpoints (each measurement, the end)."""
        used, source, reason = self._readings.nvml_used()
        self._nvml_reason = reason
        if used is not None:
            self._nvml_peak = used if self._nvml_peak is None else max(self._nvml_peak, used)
            self._nvml_source = source

    def finish(self) -> Tuple[Metric, ...]:
        """Per probe, the test's own peak and the absolute one (see the module docstring)."""
        self.checkpoint()
        return (*self._torch_metrics(), *self._nvml_metrics(), *self._host_metrics())

    def _torch_metrics(self) -> Tuple[Metric, ...]:
        if not self._use_cuda or self._torch_start is None:
            return (
                *per_test(GPU_PEAK_ALLOCATED, None, None, NO_TORCH_CUDA),
                *per_test(GPU_PEAK_RESERVED, None, None, NO_TORCH_CUDA),
            )
        (allocated, reserved), (peak_allocated, peak_reserved) = self._torch_start, self._readings.torch_peaks()
        return (
            *per_test(GPU_PEAK_ALLOCATED, allocated, peak_allocated, source="torch"),
            *per_test(GPU_PEAK_RESERVED, reserved, peak_reserved, source="torch"),
        )

    def _nvml_metrics(self) -> Tuple[Metric, ...]:
        if self._nvml_peak is None:
            return per_test(GPU_DEVICE_USED, None, None, self._nvml_reason or "NVML gave no reading")
        start, source = self._nvml_start or (None, "")
        if source != self._nvml_source:
            reason = f"NVML read {source or 'nothing'} at the start and {self._nvml_source} at the end"
            return per_test(GPU_DEVICE_USED, None, self._nvml_peak, reason, source=self._nvml_source)
        return per_test(GPU_DEVICE_USED, start, self._nvml_peak, source=self._nvml_source)

    def _host_metrics(self) -> Tuple[Metric, ...]:
        peak, context = self._readings.host_peak()
        return per_test(HOST_PEAK_RSS, self._host_start, peak, NO_RSS_RESET, **context)


def _nvml_used() -> Tuple[Optional[int], str, Optional[str]]:
    """GPU memory of this process tree by NVML; the whole device's where NVML shows no pids of ours."""
    device = nvml_device()
    if device.handle is None:
        return None, "", device.reason
    import pynvml

    processes = pynvml.nvmlDeviceGetComputeRunningProcesses(device.handle)
    if not processes:
        return 0, "nvml-process-tree", None
    tree = set(process_tree())
    ours = [p.usedGpuMemory for p in processes if p.pid in tree and p.usedGpuMemory is not None]
    if ours:
        return sum(ours), "nvml-process-tree", None
    # A PID namespace (containers) hides our pids from NVML: fall back to the device total.
    return pynvml.nvmlDeviceGetMemoryInfo(device.handle).used, "nvml-device", None


def _trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc's malloc_trim), as torch's cache is emptied for
    the GPU: a test's RSS then grows from what is live, not into what earlier tests left free."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return  # not glibc
    trim(0)


def _reset_peak_rss(pid: int) -> bool:
    """Writing 5 to clear_refs resets the kernel's peak-RSS mark (VmHWM) to the current RSS."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False  # not Linux, or not permitted: VmHWM then stays the process-lifetime peak
    return True


def _proc_status_bytes(pid: int, field: str) -> Optional[int]:
    """A size in /proc/PID/status (`VmRSS:`, `VmHWM:`), in bytes; None where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
