"""The verdict, on recorded samples: exact and never flaky."""

import random

import pytest

from pytest_aotperf.metrics import Metric
from pytest_aotperf.verdict import (
    IMPROVED,
    INFO,
    MEMORY_SLACK_BYTES,
    NEW,
    NOISY,
    REGRESSED,
    UNAVAILABLE,
    UNCHANGED,
    FailurePolicy,
    failure_messages,
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
    """Medians 12% apart but samples so noisy the median's interval is wider than the tolerance."""
    wide = [1e-3 * (1 + 0.5 * ((i % 7) - 3) / 3) for i in range(21)]
    base = Metric.from_samples("latency", wide)
    slower = tuple(s * 1.12 for s in wide)
    current = Metric.from_samples("latency", slower)
    verdict = judge(current, stored(base), 0.10)
    assert verdict.change > 0.10
    assert verdict.status == NOISY


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


def test_a_regression_fails_and_the_policy_decides_improvements_and_missing_baselines():
    regressed = judge(timing(2e-3, seed=2), stored(timing(1e-3)), 0.10)
    improved = judge(timing(0.5e-3, seed=2), stored(timing(1e-3)), 0.10)
    new = judge(timing(1e-3, name="tpot"), None, 0.10)
    verdicts = (regressed, improved, new)
    assert failure_messages("test_op", "eager", verdicts, FailurePolicy()) == (
        f"test_op (backend eager): {regressed.describe()}",
    )
    strict = FailurePolicy(strict=True, fail_on_improvement=True, baseline_dir="baselines")
    assert failure_messages("test_op", "eager", verdicts, strict)[1:] == (
        "test_op (backend eager): improved beyond its tolerance, the baseline is stale "
        f"(refresh it with `aotperf refresh`): {improved.describe()}",
        "test_op (backend eager): no baseline for tpot in baselines (--aot-strict); record one with `aotperf refresh`",
    )


def test_limits_fail_first_and_alone_in_refresh_mode():
    metrics = (timing(3e-3),)
    regressed = judge(metrics[0], stored(timing(1e-3)), 0.10)
    limits = {"latency": "2 ms", "tpot": "1 ms"}
    limit_failures = (
        "latency 3.00 ms is above its limit 2.00 ms",
        "limits name metric 'tpot', which this test did not record; recorded: latency",
    )
    refresh = FailurePolicy(refresh=True)
    assert failure_messages("test_op", "eager", (regressed,), refresh, metrics, limits) == limit_failures
    assert failure_messages("test_op", "eager", (regressed,), FailurePolicy(), metrics, limits)[:2] == limit_failures
    (unreadable,) = failure_messages("test_op", "eager", (), refresh, metrics, {"latency": "2 GiB"})
    assert unreadable.startswith("limit for 'latency': '2 GiB': unknown unit 'GiB'")


def test_a_metric_needs_a_value_or_a_reason():
    with pytest.raises(ValueError, match="value or the reason"):
        Metric(name="x", unit="s", better="lower", kind="timing")
    with pytest.raises(ValueError, match="better must be"):
        Metric(name="x", unit="s", better="smaller", kind="timing", value=1.0)


def count(value, name="kernels_per_call", better="lower", kind="count"):
    return Metric(name=name, unit="count", better=better, kind=kind, value=float(value))


@pytest.mark.parametrize(
    "current, better, status",
    [(12, "lower", REGRESSED), (9, "lower", IMPROVED), (10, "lower", UNCHANGED), (9, "higher", REGRESSED)],
)
def test_counts_are_judged_exactly_whatever_the_tolerance(current, better, status):
    verdict = judge(count(current, better=better), stored(count(10, better=better)), 0.5)
    assert verdict.status == status and verdict.tolerance == 0.0


def test_an_exact_count_names_itself_and_ignores_run_to_run_drift():
    verdict = judge(count(11), stored(count(10), runs=(10.0, 12.0)), 0.1)
    assert verdict.status == REGRESSED and verdict.drift == 0.0
    assert verdict.describe() == "kernels_per_call 11 vs baseline 10 (+10.0%, exact)"


def test_a_count_stored_before_counts_existed_is_judged_exactly():
    """Baselines recorded `graphs` as kind "value": the current metric's kind decides."""
    assert judge(count(2, name="graphs"), stored(count(1, name="graphs", kind="value")), 0.1).status == REGRESSED


def test_a_per_call_count_compares_at_its_stored_digits():
    assert judge(count(1 / 3), stored(count(333 / 999)), 0.1).status == UNCHANGED


def test_informational_metrics_are_compared_but_never_judged():
    replays = Metric(name="replays", unit="count", better="higher", kind="value", value=1511.0, informational=True)
    verdict = judge(replays, stored(count(2023, name="replays", better="higher", kind="value")), 0.1)
    assert verdict.status == INFO and verdict.change == pytest.approx(1511 / 2023 - 1)
    assert judge(replays, None, 0.1).status == INFO


def test_a_metric_wider_than_its_tolerance_is_noisy_not_failed_with_its_spread():
    verdict = judge(timing(2e-3, spread=0.3, n=20, seed=2), stored(timing(1e-3)), 0.10)
    assert verdict.status == NOISY
    assert "noisy: the 95% interval of the median spans" in verdict.describe()


def test_drift_widens_what_counts_as_noisy():
    current = timing(1e-3, spread=0.2, n=100, seed=2)
    assert judge(current, stored(timing(1e-3)), 0.05).status == NOISY
    assert judge(current, stored(timing(1e-3), runs=(0.7e-3, 1e-3)), 0.05).status == UNCHANGED


def test_informational_flag_round_trips_and_is_written_only_when_set():
    plain = timing(1e-3).stored()
    assert "informational" not in plain.to_json()
    assert Metric.from_json("latency", plain.to_json(), "m") == plain
    info = Metric(name="replays", unit="count", better="higher", kind="value", value=5.0, informational=True)
    assert info.to_json()["informational"] is True
    assert Metric.from_json("replays", info.to_json(), "m") == info
