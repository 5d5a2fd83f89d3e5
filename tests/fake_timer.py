"""A conftest for pytester suites: `aot_timer` reports AOT_FAKE_MS per call (default 1.0 ms), exactly, and
host-speed timings are judged by the fixed tolerance, as on a quiet machine."""

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
"""
