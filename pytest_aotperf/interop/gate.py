"""Tests that use pytest-benchmark's `benchmark` fixture, judged against aotperf's baselines.

Opt in per test by using `aot_benchmark` (pytest-benchmark's fixture, timing each call up to the
end of its GPU work), or for every `benchmark` test with --aot-gate-benchmarks. The benchmark's
per-round times become the test's `benchmark` metric and go through the same verdict as
`aot_perf.measure`. Without either, aotperf leaves pytest-benchmark tests alone.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, cast

import pytest

from ..fixtures import recorder_for
from ..measure.timing import timer_for
from ..stash import RECORDER_KEY, session_of

METRIC = "benchmark"
NOT_TIMED = "pytest-benchmark did not time this test (benchmarks disabled, e.g. --benchmark-disable)"
NOT_TIMED_UNDER_XDIST = "pytest-benchmark did not time this test: it disables itself under xdist; run it without -n"


def synchronized(fn: Callable[..., Any], device: str) -> Callable[..., Any]:
    """`fn` followed by torch.cuda.synchronize() on a CUDA device, so a host timer sees the GPU work."""
    if not device.startswith("cuda"):
        return fn
    import torch

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        torch.cuda.synchronize()
        return result

    return call


class SynchronizedBenchmark:
    """pytest-benchmark's fixture whose timed callables end with a device synchronisation."""

    benchmark: Any
    """The underlying pytest-benchmark fixture (for extra_info, group, ...)."""
    device: str

    def __init__(self, benchmark: Any, device: str) -> None:
        self.benchmark = benchmark
        self.device = device

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.benchmark(synchronized(fn, self.device), *args, **kwargs)

    def pedantic(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.benchmark.pedantic(synchronized(target, self.device), *args, **kwargs)


@pytest.fixture
def aot_benchmark(benchmark: Any, aot_device: str) -> SynchronizedBenchmark:
    """pytest-benchmark's `benchmark`, synchronised on CUDA, its timings gated by aotperf's baselines."""
    return SynchronizedBenchmark(benchmark, aot_device)


def is_gated(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return "aot_benchmark" in names or ("benchmark" in names and session_of(item.config).settings.gate_benchmarks)


def keep_benchmark_stats(item: pytest.Item) -> None:
    """Record the benchmark's per-round times on the test's recorder (made here if the test has none)."""
    # A gated item requests fixtures, so it is a test function; its fixture values are whatever they are.
    funcargs: Mapping[str, Any] = cast(pytest.Function, item).funcargs
    fixture = funcargs["benchmark"]
    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is None:
        device = funcargs.get("aot_device", "cpu")
        recorder = recorder_for(item, device, timer_for(device))
        item.stash[RECORDER_KEY] = recorder
    if fixture.stats is None:
        in_worker = hasattr(item.config, "workerinput")
        recorder.record_unavailable(METRIC, NOT_TIMED_UNDER_XDIST if in_worker else NOT_TIMED, unit="s", kind="timing")
        return
    recorder.record_samples(
        METRIC,
        fixture.stats.stats.data,
        unit="s",
        better="lower",
        kind="timing",
        context={"iterations": fixture.stats.iterations},
    )
