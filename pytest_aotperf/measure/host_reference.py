"""A reading of this process's host speed: a fixed block of tiny host-side torch ops and a Python loop, timed.

The host runs at a different speed in each process (30 ns per loop iteration in one, 57 ns in the
next, on one H200 machine). The reading is kept in the environment, so that a run whose host was
much slower than the baseline's says so beside its host-speed timings.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

BLOCK_OPS = 200
"""Tiny torch ops per block (an add of two 4-element CPU tensors: dispatch only)."""
LOOP_ITERATIONS = 2000
"""Python loop iterations per block."""
READINGS = 9
SLOW_HOST_RATIO = 1.5
"""A run whose reading is this many times the baseline's is flagged `slow-host`."""
SLOW_HOST = "slow-host"


def reference_block_ns(tensors: Any = None) -> float:
    """One block's time per torch op, in ns (the Python loop's time counted in)."""
    import torch

    a, b, out = tensors if tensors is not None else (torch.zeros(4), torch.ones(4), torch.empty(4))
    start = time.perf_counter_ns()
    for _ in range(BLOCK_OPS):
        torch.add(a, b, out=out)
    total = 0
    for index in range(LOOP_ITERATIONS):
        total += index
    return (time.perf_counter_ns() - start) / BLOCK_OPS


def host_reference_ns(readings: int = READINGS) -> float:
    """The median of `readings` blocks, after one to warm up: ns per op, lower on a faster host."""
    import torch

    tensors = (torch.zeros(4), torch.ones(4), torch.empty(4))
    reference_block_ns(tensors)
    return statistics.median(reference_block_ns(tensors) for _ in range(readings))


def slower_host(current_ns: Any, baseline_ns: Any) -> bool:
    """Whether this run's host read SLOW_HOST_RATIO times slower than the baseline's (False if either is missing)."""
    numbers = all(isinstance(value, (int, float)) and value > 0 for value in (current_ns, baseline_ns))
    return numbers and current_ns / baseline_ns >= SLOW_HOST_RATIO
