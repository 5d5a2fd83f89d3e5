"""Memory probes: torch's GPU peaks, NVML device memory and peak host RSS over the process tree, in bytes.

`memory_monitor` turns their readings into a test's memory metrics.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol, Tuple

from .nvml import nvml_device

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


def _nvml_used() -> Tuple[Optional[int], str, Optional[str]]:
    """GPU memory of this process tree by NVML; the whole device's where NVML shows no pids of ours."""
    device = nvml_device()
    if device.handle is None:
        return None, "", device.reason
    import pynvml

    processes = pynvml.nvmlDeviceGetComputeRunningProcesses(device.handle)
    if not processes:
        return 0, "nvml-process-tree", None
    ours = _tree_usage(processes)
    if ours:
        return sum(ours.values()), "nvml-process-tree", None
    # A PID namespace (containers) hides our pids from NVML: fall back to the device total.
    return pynvml.nvmlDeviceGetMemoryInfo(device.handle).used, "nvml-device", None


def nvml_tree_processes() -> Tuple[Optional[Dict[int, int]], Optional[str]]:
    """GPU memory by pid of this process tree's processes that NVML lists (none where a PID namespace hides
    them); None and why where NVML cannot be read."""
    device = nvml_device()
    if device.handle is None:
        return None, device.reason
    import pynvml

    return _tree_usage(pynvml.nvmlDeviceGetComputeRunningProcesses(device.handle)), None


def _tree_usage(processes: List[Any]) -> Dict[int, int]:
    """The GPU memory NVML lists for each of this process tree's processes."""
    tree = set(process_tree())
    return {p.pid: p.usedGpuMemory for p in processes if p.pid in tree and p.usedGpuMemory is not None}


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
