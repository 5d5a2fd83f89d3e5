import math
import random

import pytest

from pytest_aotperf.measure.stats import (
    median_interval,
    median_spread,
    quantile,
    ratio_of_medians_interval,
    relative_spread,
    summarize,
    thin,
)


def test_summary_of_known_samples():
    summary = summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (summary.n, summary.min, summary.median, summary.mean) == (5, 1.0, 3.0, 3.0)
    assert summary.stddev == pytest.approx(math.sqrt(2.5))
    assert summary.iqr == pytest.approx(2.0)
    assert summary.p90 == pytest.approx(4.6)
    assert summary.p99 == pytest.approx(4.96)


def test_quantile_matches_numpy_linear_method():
    numpy = pytest.importorskip("numpy")
    values = sorted(random.Random(1).random() for _ in range(101))
    for q in (0.0, 0.1, 0.5, 0.9, 0.99, 1.0):
        assert quantile(values, q) == pytest.approx(float(numpy.quantile(values, q)))


def test_empty_samples_are_an_error():
    with pytest.raises(ValueError):
        summarize([])


def test_thin_keeps_the_distribution():
    samples = list(range(10_000))
    kept = thin(samples, 200)
    assert len(kept) == 200
    assert summarize(kept).median == pytest.approx(summarize(samples).median, rel=0.01)
    assert thin([3.0, 1.0], 200) == (1.0, 3.0)


def test_bootstrap_interval_is_deterministic_and_brackets_the_ratio():
    rng = random.Random(7)
    base = [rng.gauss(1.0, 0.02) for _ in range(200)]
    cur = [rng.gauss(1.5, 0.02) for _ in range(200)]
    low, high = ratio_of_medians_interval(base, cur)
    assert (low, high) == ratio_of_medians_interval(base, cur)
    assert low < 1.5 < high
    assert high - low < 0.02


def test_relative_spread_of_runs():
    assert relative_spread([1.0]) == 0.0
    assert relative_spread([0.9, 1.0, 1.1]) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "n, ranks",
    [(5, (1, 5)), (6, (1, 6)), (10, (2, 9)), (20, (6, 15)), (100, (40, 61)), (1000, (469, 532))],
)
def test_median_interval_is_the_binomial_order_statistics(n, ranks):
    """Ranks (1-based) as tabulated for the 95% distribution-free interval of a median."""
    assert median_interval([float(i) for i in range(n, 0, -1)]) == (float(ranks[0]), float(ranks[1]))


def test_median_interval_covers_the_median_about_95_percent_of_the_time():
    rng = random.Random(3)
    covered = 0
    for _ in range(1000):
        low, high = median_interval([rng.expovariate(1.0) for _ in range(30)])
        covered += low <= math.log(2) <= high
    assert 940 <= covered <= 990


def test_median_spread_is_relative_to_the_median():
    assert median_spread([10.0] * 8) == 0.0
    assert median_spread([float(i) for i in range(1, 11)]) == pytest.approx((9 - 2) / 5.5)
    assert median_spread([-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]) == math.inf
