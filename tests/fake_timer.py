"""A conftest for pytester suites: `aot_timer` reports AOT_FAKE_MS per call (default 1.0 ms), exactly, the
host's speed reads AOT_FAKE_HOST_NS (default 100 ns per reference op) in every run, and host-speed timings
are judged by the fixed tolerance, as on a quiet machine."""

CONFTEST = """
import os
import pytest


class FakeTimer:
    '''Calls fn for real; reports AOT_FAKE_MS per call with +-1% jitter, so the median is exact.'''

    def time_calls(self, fn, count, between=None, block=1):
        base = float(os.environ.get("AOT_FAKE_MS", "1.0")) * 1e-3
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
