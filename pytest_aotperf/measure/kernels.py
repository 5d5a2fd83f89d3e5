"""What one call runs on the GPU, by the CUDA profiler: kernels launched, copies and fills, and their device time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

KERNEL = "kernel"
COPIES_AND_FILLS = ("gpu_memcpy", "gpu_memset")
"""The profiler's activity types of device work; annotations and synchronisations on the device are neither."""
NO_CUDA_FOR_KERNEL_COUNT = "no CUDA device: kernel launches are counted by the CUDA profiler"


@dataclass(frozen=True)
class KernelProfile:
    """The device work of one call."""

    kernels: int
    """Kernels launched (inside a replayed CUDA graph too), copies and fills not counted."""
    copies: int
    """Device copies and fills (memcpy, memset)."""
    kernel_s: float
    """The kernels' device durations, summed: a cross-check of the timed device time."""

    @property
    def operations(self) -> int:
        """Everything the call puts in the launch queue that the profiler sees."""
        return self.kernels + self.copies


def device_work(events: Iterable[Any]) -> KernelProfile:
    """The kernels and copies among profiler events, by their activity (durations in `time_range`, in µs)."""
    kernels = copies = 0
    kernel_us = 0.0
    for event in events:
        activity = activity_of(event)
        if activity == KERNEL:
            kernels += 1
            kernel_us += event.time_range.elapsed_us()
        elif activity in COPIES_AND_FILLS:
            copies += 1
    return KernelProfile(kernels, copies, kernel_us * 1e-6)


def activity_of(event: Any) -> str:
    """The event's activity type: torch >= 2.12 names it; before, its device, annotation flag and name tell."""
    activity = getattr(event, "activity_type", None)
    if activity is not None:
        return str(activity)
    on_device = getattr(event.device_type, "name", "") == "CUDA"
    if not on_device or getattr(event, "is_user_annotation", False):
        return "other"
    if event.name.startswith("Memcpy"):
        return "gpu_memcpy"
    return "gpu_memset" if event.name.startswith("Memset") else KERNEL


def profile_call(fn: Callable[[], Any]) -> KernelProfile:
    """Run `fn` once under the CUDA profiler (warmed up before: nothing compiles or autotunes here)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as profiler:
        fn()
        torch.cuda.synchronize()
    return device_work(profiler.events())
