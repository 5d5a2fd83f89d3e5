"""Timers and the sampling loop: warm-up, then samples until the median is tight or the time budget is spent."""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Protocol

from .adaptive import sample_until_tight


@dataclass(frozen=True)
class SamplingPlan:
    """How to sample: warm-up and sample bounds (overridable per call and by option)."""

    warmup_s: float = 0.05
    min_warmup: int = 3
    min_samples: int = 20
    max_samples: int = 1000
    max_time_s: float = 1.0
    flush_l2: bool = False

    def __post_init__(self) -> None:
        """Refuse a plan that cannot sample: ValueError naming the field (as measure()'s argument)."""
        for name, value, least in (("warmup", self.warmup_s, "at least 0"), ("max_time", self.max_time_s, "above 0")):
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not number or value < 0 or (value == 0 and least == "above 0"):
                raise ValueError(f"{name}={value!r}: give a finite number of seconds, {least}")
        for name, count in (
            ("min_warmup", self.min_warmup),
            ("min_samples", self.min_samples),
            ("max_samples", self.max_samples),
        ):
            if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 1:
                raise ValueError(f"{name}={count!r}: give a whole number, at least 1")

    def sample_count(self, estimate_s: float) -> int:
        """As many samples of `estimate_s` as fit the time budget, within [min_samples, max_samples]."""
        fitting = math.floor(self.max_time_s / estimate_s) if estimate_s > 0 else self.max_samples
        return max(self.min_samples, min(self.max_samples, fitting))


class Timer(Protocol):
    """Takes `count` samples of `block` calls of `fn` each; returns seconds per call. Injectable for exact tests.

    A timer may also define `block_for(estimate_s) -> int`, the calls per sample for a function
    that takes about `estimate_s`; without it every sample is one call.
    """

    def time_calls(
        self, fn: Callable[[], Any], count: int, between: Optional[Callable[[], Any]] = None, block: int = 1
    ) -> List[float]: ...


class CpuTimer:
    """Host clock (`perf_counter_ns`) around each sample: right for synchronous devices.

    A sample is a block of calls lasting at least `min_block_s`, as in torch.utils.benchmark's
    blocked_autorange (1 ms blocks for its usual 1 s run): the clock's own cost (about 60 ns a
    reading) and the scheduler's jitter average out within a block, and the median of the blocks
    agrees with blocked_autorange's (docs/benchmarks.md).
    """

    def __init__(self, clock_ns: Callable[[], int] = time.perf_counter_ns, min_block_s: float = 1e-3) -> None:
        self._clock_ns = clock_ns
        self._min_block_s = min_block_s

    def block_for(self, estimate_s: float) -> int:
        return max(1, math.ceil(self._min_block_s / estimate_s - 1e-9)) if estimate_s > 0 else 1

    def time_calls(
        self, fn: Callable[[], Any], count: int, between: Optional[Callable[[], Any]] = None, block: int = 1
    ) -> List[float]:
        clock = self._clock_ns
        elapsed = [0] * count
        calls = range(block)
        for i in range(count):
            if between is not None:
                between()
            start = clock()
            for _ in calls:
                fn()
            elapsed[i] = clock() - start
        return [ns / (1e9 * block) for ns in elapsed]


class CudaEventTimer:
    """CUDA events around each call on the current stream, one synchronisation at the end."""

    def time_calls(
        self, fn: Callable[[], Any], count: int, between: Optional[Callable[[], Any]] = None, block: int = 1
    ) -> List[float]:
        import torch

        starts = [torch.cuda.Event(enable_timing=True) for _ in range(count)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(count)]
        stream = torch.cuda.current_stream()
        for i in range(count):
            if between is not None:
                between()
            starts[i].record(stream)
            for _ in range(block):
                fn()
            ends[i].record(stream)
        torch.cuda.synchronize()
        return [s.elapsed_time(e) * 1e-3 / block for s, e in zip(starts, ends)]


def timer_for(device: str) -> Timer:
    return CudaEventTimer() if device.startswith("cuda") else CpuTimer()


class L2Flusher:
    """Overwrites a buffer larger than the L2 cache between samples, as triton's do_bench does."""

    BYTES = 256 * 1024 * 1024

    def __init__(self, device: str) -> None:
        import torch

        self._buffer = torch.empty(self.BYTES // 4, dtype=torch.int32, device=device)

    def __call__(self) -> None:
        self._buffer.zero_()


@dataclass(frozen=True)
class Sampled:
    samples: List[float]
    """Seconds per call, one per sample."""
    graphs_compiled: int
    """Graphs torch.compile produced while the samples were taken (a recompilation), not in warm-up."""


def sample(
    fn: Callable[[], Any],
    timer: Timer,
    plan: SamplingPlan,
    between: Optional[Callable[[], Any]] = None,
    graph_count: Callable[[], int] = lambda: 0,
    tolerance: Optional[float] = None,
) -> Sampled:
    """Warm `fn` up for `plan.warmup_s` (at least `min_warmup` calls), then time it: `min_samples`,
    then more in rounds until the median is tight for `tolerance` (measure.adaptive) or as many
    as fit the time budget are taken; without a tolerance, as many as fit the budget.

    The warm-up keeps compilation, autotuning and allocator growth out of the samples and
    gives the per-call estimate that sizes the budget in samples. Its calls go
    to the timer in chunks of 1, 2, 4, ...: a GPU then runs them back to back, as it runs the
    samples, and reaches the clock and power state the samples see (a synchronisation after
    every call would leave it idle between calls, cooler than while sampling).
    """
    warmup_times: List[float] = []
    chunk = 1
    while len(warmup_times) < plan.min_warmup or sum(warmup_times) < plan.warmup_s:
        warmup_times.extend(timer.time_calls(fn, chunk, between))
        if len(warmup_times) >= plan.max_samples:
            break
        chunk *= 2
    estimate = sorted(warmup_times)[len(warmup_times) // 2]
    graphs_before = graph_count()
    block = timer.block_for(estimate) if hasattr(timer, "block_for") else 1
    most = plan.sample_count(estimate * block)
    samples = sample_until_tight(lambda n: timer.time_calls(fn, n, between, block), plan.min_samples, most, tolerance)
    return Sampled(samples, graph_count() - graphs_before)
