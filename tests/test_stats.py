import math
import random

import pytest

from pytest_aotperf.measure.stats import quantile, ratio_of_medians_interval, relative_spread, summarize, thin


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
