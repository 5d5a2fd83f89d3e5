"""The verdict, on recorded samples: exact and never flaky."""

import random

import pytest

from pytest_aotperf.metrics import Metric
from pytest_aotperf.verdict import (
    IMPROVED,
    MEMORY_SLACK_BYTES,
    NEW,
    REGRESSED,
    UNAVAILABLE,
    UNCHANGED,
    judge,
    limit_violation,
)


def timing(median, spread=0.01, n=200, seed=1, name="latency", better="lower", unit="s"):
    rng = random.Random(seed)
    samples = tuple(rng.gauss(median, median * spread) for _ in range(n))
    return Metric.from_samples(name, samples, unit=unit, better=better)


def stored(metric, runs=()):
    return metric.stored(runs)


def test_large_slowdown_regresses_with_the_documented_message():
    verdict = judge(timing(2.31e-3, seed=2), stored(timing(1.20e-3)), 0.10)
    assert verdict.status == REGRESSED
    assert verdict.describe().startswith("latency median 2.31 ms vs baseline 1.20 ms (+92.")
    assert verdict.describe().endswith("%, tolerance 10%)")


def test_same_distribution_is_unchanged():
    assert judge(timing(1e-3, seed=2), stored(timing(1e-3)), 0.10).status == UNCHANGED


def test_noise_alone_does_not_fail():
    """Medians 12% apart but samples so noisy the interval reaches inside the tolerance."""
    wide = [1e-3 * (1 + 0.5 * ((i % 7) - 3) / 3) for i in range(21)]
    base = Metric.from_samples("latency", wide)
    slower = tuple(s * 1.12 for s in wide)
    current = Metric.from_samples("latency", slower)
    verdict = judge(current, stored(base), 0.10)
    assert verdict.change > 0.10
    assert verdict.status == UNCHANGED


def test_improvement_beyond_tolerance_is_reported():
    assert judge(timing(0.5e-3, seed=2), stored(timing(1e-3)), 0.10).status == IMPROVED


def test_higher_is_better_metrics_regress_when_they_fall():
    base = timing(1000, name="throughput", better="higher", unit="tokens/s")
    assert (
        judge(timing(500, seed=2, name="throughput", better="higher", unit="tokens/s"), stored(base), 0.1).status
        == REGRESSED
    )
    assert (
        judge(timing(2000, seed=2, name="throughput", better="higher", unit="tokens/s"), stored(base), 0.1).status
        == IMPROVED
    )


def test_run_to_run_drift_widens_the_allowance():
    base, current = timing(1e-3), timing(1.2e-3, seed=2)
    assert judge(current, stored(base), 0.10).status == REGRESSED
    drifting = stored(base, runs=(0.85e-3, 1e-3, 1.15e-3))
    verdict = judge(current, drifting, 0.10)
    assert verdict.drift == pytest.approx(0.15)
    assert verdict.status == UNCHANGED
    assert "run-to-run drift 15.0%" in verdict.describe()


def memory(value):
    return Metric(name="host_peak_rss", unit="B", better="lower", kind="memory", value=float(value))


def test_memory_tolerance_has_an_absolute_slack():
    base = stored(memory(100 * 2**20))
    assert judge(memory(100 * 2**20 * 1.05 + MEMORY_SLACK_BYTES - 2**10), base, 0.05).status == UNCHANGED
    assert judge(memory(100 * 2**20 * 1.05 + MEMORY_SLACK_BYTES + 2**10), base, 0.05).status == REGRESSED


def test_single_values_compare_against_tolerance():
    base = Metric(name="compile_s", unit="s", better="lower", kind="duration", value=10.0)
    assert (
        judge(
            Metric(name="compile_s", unit="s", better="lower", kind="duration", value=13.0), stored(base), 0.25
        ).status
        == REGRESSED
    )
    assert (
        judge(
            Metric(name="compile_s", unit="s", better="lower", kind="duration", value=12.0), stored(base), 0.25
        ).status
        == UNCHANGED
    )


def test_new_unavailable_and_incomparable():
    assert judge(timing(1e-3), None, 0.1).status == NEW
    missing = Metric(name="gpu_peak_allocated", unit="B", better="lower", kind="memory", unavailable="no CUDA device")
    verdict = judge(missing, None, 0.1)
    assert verdict.status == UNAVAILABLE and "no CUDA device" in verdict.describe()
    other_unit = stored(timing(1e-3, unit="ms"))
    assert judge(timing(1e-3), other_unit, 0.1).status == NEW


def test_limits_hold_without_baseline():
    assert limit_violation(timing(3e-3), 2e-3) == "latency 3.00 ms is above its limit 2.00 ms"
    assert limit_violation(timing(1e-3), 2e-3) is None
    slow = timing(50, name="throughput", better="higher", unit="tokens/s")
    assert "below its limit" in limit_violation(slow, 100)


def test_a_metric_needs_a_value_or_a_reason():
    with pytest.raises(ValueError, match="value or the reason"):
        Metric(name="x", unit="s", better="lower", kind="timing")
    with pytest.raises(ValueError, match="better must be"):
        Metric(name="x", unit="s", better="smaller", kind="timing", value=1.0)
