"""What the host does in one call, counted exactly: operators dispatched, CUDA runtime calls, Python function calls.

A host that runs slower in one process than the next moves every host-bound timing, but not these
counts: the same code does the same work on any machine. A host-side regression (a forward hook on
every module, an extra copy or `.item()` per call) adds work and changes them.

Each count comes from one call after warm-up, as the kernel count does: the operators and runtime
calls from torch's profiler (events inside one annotated range, so the profiler's own
synchronisation is left out), the Python calls from `sys.setprofile` with the cyclic garbage
collector paused (a finaliser run by a collection would add calls that belong to no call).
"""

from __future__ import annotations

import gc
import re
import sys
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, Iterable, Optional, Tuple

CALL_RANGE = "aotperf.counted_call"
"""The profiler annotation around the counted call."""
RUNTIME_ACTIVITIES = ("cuda_runtime", "cuda_driver")
DEVICE_ACTIVITIES = ("kernel", "gpu_memcpy", "gpu_memset", "gpu_user_annotation")
RUNTIME_NAME = re.compile(r"^cu(da)?[A-Z]")
"""A CUDA runtime or driver call by name (`cudaLaunchKernel`, `cuLaunchKernel`), for torch before 2.12,
whose events do not name their activity."""
OPERATOR_PREFIX = "aten::"
NO_RUNTIME_REASON = "no CUDA device: CUDA runtime calls are counted by the CUDA profiler"


@dataclass(frozen=True)
class HostWork:
    """The host's work in one call."""

    aten_ops: int
    """Operators dispatched (`aten::` events, nested ones included: `aten::linear` and the `aten::addmm` in it)."""
    runtime_calls: Optional[int]
    """CUDA runtime and driver calls (launches, copies, synchronisations); None without CUDA."""
    python_calls: int
    """Python function calls (`sys.setprofile`'s "call" events: functions, generators resumed)."""


def host_operations(events: Iterable[Any], on_cuda: bool) -> Tuple[int, Optional[int]]:
    """(operators, runtime calls) among profiler events that start inside the CALL_RANGE annotation."""
    events = list(events)
    ranges = [event.time_range for event in events if event.name == CALL_RANGE and not on_device(event)]
    if len(ranges) != 1:
        raise ValueError(f"expected one {CALL_RANGE!r} range among the profiler's events, found {len(ranges)}")
    start, end = ranges[0].start, ranges[0].end
    inside = [event for event in events if start <= event.time_range.start <= end and event.name != CALL_RANGE]
    operators = sum(1 for event in inside if event.name.startswith(OPERATOR_PREFIX))
    if not on_cuda:
        return operators, None
    return operators, sum(1 for event in inside if is_runtime_call(event))


def on_device(event: Any) -> bool:
    """An event of the GPU's timeline: a kernel, a copy, or the GPU's copy of an annotated range."""
    return (
        getattr(event.device_type, "name", "") == "CUDA"
        or str(getattr(event, "activity_type", "")) in DEVICE_ACTIVITIES
    )


def is_runtime_call(event: Any) -> bool:
    """A host-side call into the CUDA runtime or driver: torch >= 2.12 names the activity; before, the name tells."""
    activity = getattr(event, "activity_type", None)
    if activity is not None:
        return str(activity) in RUNTIME_ACTIVITIES
    return not on_device(event) and bool(RUNTIME_NAME.match(event.name))


def count_python_calls(fn: Callable[[], Any]) -> int:
    """The Python function calls `fn()` makes, itself included (any profile function set before is restored)."""
    calls = 0

    def count(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    previous = sys.getprofile()
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(previous)
        if collecting:
            gc.enable()
    return calls


def count_host_work(fn: Callable[[], Any], on_cuda: bool) -> HostWork:
    """Run `fn` twice (warmed up before: nothing compiles here): once profiled, once with Python calls counted."""
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    with profile(activities=activities) as profiler:
        with record_function(CALL_RANGE):
            fn()
        if on_cuda:
            torch.cuda.synchronize()
    operators, runtime_calls = host_operations(profiler.events(), on_cuda)
    return HostWork(aten_ops=operators, runtime_calls=runtime_calls, python_calls=count_python_calls(fn))
