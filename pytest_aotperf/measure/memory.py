"""Memory probes for one test: torch's GPU peaks, NVML device memory, and peak host RSS.

Each probe returns a Metric, unavailable with the reason where the machine cannot measure it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

from ..metrics import Metric
from .nvml import nvml_device

GPU_PEAK_ALLOCATED = "gpu_peak_allocated"
GPU_PEAK_RESERVED = "gpu_peak_reserved"
GPU_DEVICE_USED = "gpu_device_used"
HOST_PEAK_RSS = "host_peak_rss"
MEMORY_METRICS = (GPU_PEAK_ALLOCATED, GPU_PEAK_RESERVED, GPU_DEVICE_USED, HOST_PEAK_RSS)


def memory_metric(
    name: str, value: Optional[float] = None, unavailable: Optional[str] = None, **context: object
) -> Metric:
    return Metric(
        name=name,
        unit="B",
        better="lower",
        kind="memory",
        value=value,
        unavailable=unavailable,
        context=tuple(sorted(context.items())),
    )


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


class MemoryMonitor:
    """Started when a test begins, polled at checkpoints, read when it ends."""

    def __init__(self, use_cuda: bool) -> None:
        self._use_cuda = use_cuda
        self._nvml_peak: Optional[int] = None
        self._nvml_source = ""
        self._nvml_reason: Optional[str] = None

    def start(self) -> None:
        if self._use_cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        for pid in process_tree():
            _reset_peak_rss(pid)
        self.checkpoint()

    def checkpoint(self) -> None:
        """Read NVML now; device memory is sampled at checkpoints (each measurement, the end)."""
        used, source, reason = _nvml_used()
        self._nvml_reason = reason
        if used is not None:
            self._nvml_peak = used if self._nvml_peak is None else max(self._nvml_peak, used)
            self._nvml_source = source

    def finish(self) -> Tuple[Metric, ...]:
        self.checkpoint()
        return (*self._torch_peaks(), self._nvml_metric(), _host_peak_rss())

    def _torch_peaks(self) -> Tuple[Metric, Metric]:
        if not self._use_cuda:
            reason = "no CUDA device: torch's GPU memory counters need one"
            return memory_metric(GPU_PEAK_ALLOCATED, unavailable=reason), memory_metric(
                GPU_PEAK_RESERVED, unavailable=reason
            )
        import torch

        torch.cuda.synchronize()
        return (
            memory_metric(GPU_PEAK_ALLOCATED, float(torch.cuda.max_memory_allocated()), source="torch"),
            memory_metric(GPU_PEAK_RESERVED, float(torch.cuda.max_memory_reserved()), source="torch"),
        )

    def _nvml_metric(self) -> Metric:
        if self._nvml_peak is None:
            return memory_metric(GPU_DEVICE_USED, unavailable=self._nvml_reason or "NVML gave no reading")
        return memory_metric(GPU_DEVICE_USED, float(self._nvml_peak), source=self._nvml_source)


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


def _reset_peak_rss(pid: int) -> None:
    """Writing 5 to clear_refs resets the kernel's peak-RSS mark (VmHWM) to the current RSS."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not permitted: VmHWM then stays the process-lifetime peak, as documented


def _peak_rss(pid: int) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _host_peak_rss() -> Metric:
    peaks = [p for p in map(_peak_rss, process_tree()) if p is not None]
    if not peaks:
        import resource

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return memory_metric(HOST_PEAK_RSS, float(maxrss * 1024), source="getrusage (process lifetime)")
    return memory_metric(HOST_PEAK_RSS, float(sum(peaks)), source="VmHWM over the process tree", processes=len(peaks))
