"""When sampling stops: on recorded samples, never the clock."""

import pytest

from pytest_aotperf.measure.adaptive import STOP_FRACTION, more_iterations_needed, sample_until_tight, tight

STEADY = [1.0, 1.001, 0.999] * 10
"""The median's 95% interval spans 0.2%."""
SPREAD = [0.8 + 0.4 * (i * 7 % 30) / 29 for i in range(30)]
"""Evenly over 0.8 to 1.2: the median's 95% interval spans about 20% of it at 20 samples, 5% at 300."""


class Source:
    """Hands out `pattern` cyclically and notes every request."""

    def __init__(self, pattern):
        self.pattern, self.taken, self.requests = pattern, 0, []

    def take(self, n):
        self.requests.append(n)
        values = [self.pattern[(self.taken + i) % len(self.pattern)] for i in range(n)]
        self.taken += n
        return values


def test_tight_means_the_median_interval_is_narrower_than_a_quarter_of_the_tolerance():
    assert STOP_FRACTION == 0.25
    assert tight(STEADY, 0.10) and not tight(SPREAD, 0.10)
    assert not tight(STEADY, 0.004) and not tight([], 0.10)


def test_steady_samples_stop_after_the_first_round():
    source = Source(STEADY)
    assert len(sample_until_tight(source.take, 20, 1000, 0.10)) == 20
    assert source.requests == [20]


def test_spread_samples_double_until_the_budget():
    source = Source(SPREAD)
    samples = sample_until_tight(source.take, 20, 300, 0.10)
    assert source.requests == [20, 20, 40, 80, 140] and len(samples) == 300


def test_sampling_stops_as_soon_as_the_median_is_tight():
    """Wide at first, then steady: the second round narrows the interval enough."""
    source = Source(SPREAD[:9] + [1.0] * 31)
    sample_until_tight(source.take, 10, 1000, 0.10)
    assert source.requests == [10, 10]


def test_without_a_tolerance_the_budget_alone_decides():
    source = Source(STEADY)
    assert len(sample_until_tight(source.take, 20, 500, None)) == 500 and source.requests == [500]


@pytest.mark.parametrize(
    "latency, tpot, cap, more",
    [
        (STEADY[:10], STEADY[:10], 100, 0),
        (STEADY[:10], SPREAD[:10], 100, 10),
        (SPREAD[:10], STEADY[:10], 15, 5),
        (SPREAD[:30], SPREAD[:30], 30, 0),
        (SPREAD[:20], SPREAD[:10], 100, 10),
    ],
)
def test_more_iterations_until_every_series_is_tight_or_the_cap(latency, tpot, cap, more):
    assert more_iterations_needed([latency, tpot], 0.10, cap) == more
