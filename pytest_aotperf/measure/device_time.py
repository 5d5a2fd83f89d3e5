"""Device time per call on CUDA: calls the host queues while the GPU sleeps, timed by events after the sleep.

An event pair around each call (CudaEventTimer) times what a caller waits: when the host launches
slower than the GPU runs, the pair spans the host's launch time. Here a sample is a block of
calls queued behind `torch.cuda._sleep`, with one event pair after the sleep: once it ends, the
GPU runs the whole block back to back, so the pair times the device alone. A block holds at most
LAUNCH_QUEUE_OPERATIONS device operations (kernels, copies: counted by the profiler), so that the
host never waits for room in the launch queue while the GPU sleeps; the sleep lasts SLEEP_MARGIN
times the longest host issue time seen, and a block whose issue outlasted the sleep (as timed by an
event pair around it, since its length in cycles varies with the GPU's clock) is taken again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Protocol

from .adaptive import sample_until_tight
from .kernels import KernelProfile, profile_call
from .timing import SamplingPlan

LAUNCH_QUEUE_OPERATIONS = 512
"""Device operations a block may queue: well below the launch queue's depth (about 1024 entries)."""
SLEEP_MARGIN = 2.0
"""The sleep lasts this many times the host's longest issue time of a block seen so far."""
FIRST_SLEEP_S = 0.05
"""The sleep before the first block, whose issue time is not known yet."""
MIN_SLEEP_S = 2e-4
ATTEMPTS = 4
"""Tries per sample; a block whose issue still outlasts its sleep then counts as `outran`."""
CALIBRATION_CYCLES = 1_000_000
"""The sleep timed once per timer to turn seconds into `_sleep` cycles (about 0.5 ms at 2 GHz)."""


class CudaOps(Protocol):
    """What the device timer needs of CUDA, on the current stream: torch's (TorchCuda), or a fake in tests."""

    def sleep(self, cycles: int) -> None: ...

    def record(self) -> Any:
        """Record and return a timing event."""

    def elapsed_s(self, start: Any, end: Any) -> float: ...

    def synchronize(self) -> None: ...


class TorchCuda:
    """CudaOps by torch on the current stream."""

    def sleep(self, cycles: int) -> None:
        import torch

        torch.cuda._sleep(cycles)  # type: ignore[no-untyped-call]  # torch declares no types for it

    def record(self) -> Any:
        import torch

        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def elapsed_s(self, start: Any, end: Any) -> float:
        return float(start.elapsed_time(end)) * 1e-3

    def synchronize(self) -> None:
        import torch

        torch.cuda.synchronize()


def calls_per_block(operations_per_call: int) -> int:
    """As many calls as fit LAUNCH_QUEUE_OPERATIONS (at least one)."""
    return max(1, LAUNCH_QUEUE_OPERATIONS // max(1, operations_per_call))


class DeviceTimer:
    """A Timer whose samples are device seconds per call, each from a block queued behind a sleep."""

    def __init__(self, cuda: Optional[CudaOps] = None, host_clock: Callable[[], float] = time.perf_counter) -> None:
        self._cuda = cuda or TorchCuda()
        self._clock = host_clock
        self._cycles_per_s: Optional[float] = None
        self._issue_s: Optional[float] = None
        """The longest host issue time per call seen."""
        self.retaken = 0
        """Blocks taken again because the host was still issuing when the sleep ended."""
        self.outran = 0
        """Samples kept although the host outran the sleep in every attempt (they may include host time)."""

    def cycles_per_s(self) -> float:
        """`_sleep` cycles per second, timed once."""
        if self._cycles_per_s is None:
            cuda = self._cuda
            cuda.synchronize()
            start = cuda.record()
            cuda.sleep(CALIBRATION_CYCLES)
            end = cuda.record()
            cuda.synchronize()
            self._cycles_per_s = CALIBRATION_CYCLES / cuda.elapsed_s(start, end)
        return self._cycles_per_s

    def sleep_s(self, block: int) -> float:
        """How long the GPU sleeps before a block: SLEEP_MARGIN times its expected issue time."""
        if self._issue_s is None:
            return FIRST_SLEEP_S
        return max(MIN_SLEEP_S, SLEEP_MARGIN * self._issue_s * block)

    def time_calls(
        self, fn: Callable[[], Any], count: int, between: Optional[Callable[[], Any]] = None, block: int = 1
    ) -> List[float]:
        return [self._time_block(fn, between, block) for _ in range(count)]

    def _time_block(self, fn: Callable[[], Any], between: Optional[Callable[[], Any]], block: int) -> float:
        cuda = self._cuda
        for attempt in range(ATTEMPTS):
            if between is not None:
                between()
            cycles = int(self.sleep_s(block) * self.cycles_per_s())
            asleep = cuda.record()
            cuda.sleep(cycles)
            start = cuda.record()
            issue_start = self._clock()
            for _ in range(block):
                fn()
            end = cuda.record()
            issued = self._clock() - issue_start
            cuda.synchronize()
            slept = cuda.elapsed_s(asleep, start)
            if slept > 0:
                # The sleep counts SM cycles: as the GPU's clock ramps up or down its length changes.
                # What it took is the rate for the next one, and what the issue time is held against.
                self._cycles_per_s = cycles / slept
            self._issue_s = max(self._issue_s or 0.0, issued / block)
            if issued < slept:
                break
            if attempt < ATTEMPTS - 1:
                self.retaken += 1
        else:
            self.outran += 1
        return cuda.elapsed_s(start, end) / block


@dataclass(frozen=True)
class DeviceTiming:
    """Device seconds per call, sampled, with what one call runs on the device."""

    samples: List[float]
    profile: KernelProfile
    calls_per_sample: int
    retaken: int
    outran: int


class DeviceProbe:
    """Profiles one call (what it launches), then samples its device time in blocks that fit the launch queue."""

    def __init__(
        self,
        timer: Optional[DeviceTimer] = None,
        profile: Callable[[Callable[[], Any]], KernelProfile] = profile_call,
    ) -> None:
        self._timer = timer or DeviceTimer()
        self._profile = profile

    def measure(
        self,
        fn: Callable[[], Any],
        plan: SamplingPlan,
        latency_s: float,
        tolerance: Optional[float],
        between: Optional[Callable[[], Any]] = None,
    ) -> DeviceTiming:
        """`fn` is warmed up; `latency_s` (a caller's wait per call) sizes the time budget in samples.

        With `between` (the L2 flush), every sample is one call: the flush runs before the sleep.
        """
        timer = self._timer
        profile = self._profile(fn)
        block = 1 if between is not None else calls_per_block(profile.operations)
        retaken, outran = timer.retaken, timer.outran
        most = plan.sample_count(block * latency_s * (1 + SLEEP_MARGIN))
        samples = sample_until_tight(
            lambda n: timer.time_calls(fn, n, between, block), plan.min_samples, most, tolerance
        )
        return DeviceTiming(samples, profile, block, timer.retaken - retaken, timer.outran - outran)
