"""A conftest for pytester suites: `aot_timer` reports AOT_FAKE_MS per call (default 1.0 ms), exactly, the
host's speed reads AOT_FAKE_HOST_NS (default 100 ns per reference op) in every run, and host-speed timings
are judged by the fixed tolerance, as on a quiet machine, unless the run names its rule.

With AOT_FAKE_MS_PER_PROCESS naming a file of one value per line, each process takes the next line as its
AOT_FAKE_MS: recorded per-process latencies, replayed one process at a time."""

CONFTEST = """
import functools
import os
from pathlib import Path

import pytest


@functools.lru_cache(maxsize=None)
def per_call_ms():
    queue = os.environ.get("AOT_FAKE_MS_PER_PROCESS")
    if not queue:
        return float(os.environ.get("AOT_FAKE_MS", "1.0"))
    first, *rest = Path(queue).read_text().splitlines()
    Path(queue).write_text("".join(line + "\\n" for line in rest))
    return float(first)


class FakeTimer:
    '''Calls fn for real; reports per_call_ms() per call with +-1% jitter, so the median is exact.'''

    def time_calls(self, fn, count, between=None, block=1):
        base = per_call_ms() * 1e-3
        samples = []
        for i in range(count):
            for _ in range(block):
                fn()
            samples.append(base * (1 + (0.0, -0.01, 0.01)[i % 3]))
        return samples


@pytest.fixture
def aot_timer():
    return FakeTimer()


def pytest_configure(config):
    # An exact clock is the quiet, dedicated machine the fixed tolerance is for (--aot-host-timings=tolerance).
    if config.getoption("--aot-host-timings", None) is None:
        config.option.aot_host_timings = "tolerance"
    # A shared CI machine's host reading moves 1.5x between runs; an exact clock's runs share one host.
    pinned = pytest.MonkeyPatch()
    host_ns = float(os.environ.get("AOT_FAKE_HOST_NS", "100"))
    pinned.setattr("pytest_aotperf.environment.host_reference_ns", lambda: host_ns)
    config.add_cleanup(pinned.undo)
"""
