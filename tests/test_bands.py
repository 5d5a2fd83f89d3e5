"""Noise learned from history: the prediction band of the next run, its use in the verdict, and level steps."""

import math
import random

import pytest

from pytest_aotperf.history.bands import (
    history_allowance,
    level_steps,
    prediction_band,
    student_t_quantile,
)
from pytest_aotperf.metrics import Metric
from pytest_aotperf.verdict import IMPROVED, NEW, REGRESSED, UNCHANGED, judge

NIGHTS = [1.00, 1.03, 0.98, 1.01, 0.97, 1.02, 1.04, 0.99, 1.00, 0.96, 1.01, 1.03]
"""Twelve nights of a latency (ms) that wanders by a few percent."""


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [(0.995, 9, 3.249835542), (0.975, 1, 12.70620474), (0.95, 30, 1.697260887), (0.005, 9, -3.249835542)],
)
def test_student_t_quantiles_match_the_tables(p, df, expected):
    assert student_t_quantile(p, df) == pytest.approx(expected, rel=1e-8)


def test_the_band_is_a_t_interval_on_the_log_scale():
    centre, low, high = prediction_band(NIGHTS, confidence=0.99)
    logs = [math.log(v) for v in NIGHTS]
    mean = sum(logs) / len(logs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
    half = student_t_quantile(0.995, 11) * sd * math.sqrt(1 + 1 / 12)
    assert centre == pytest.approx(math.exp(mean))
    assert (low, high) == pytest.approx((math.exp(mean - half), math.exp(mean + half)))


def test_the_band_holds_the_next_run_about_as_often_as_it_claims():
    rng = random.Random(7)
    outside = 0
    for _ in range(2000):
        runs = [rng.lognormvariate(0, 0.05) for _ in range(11)]
        _, low, high = prediction_band(runs[:10], confidence=0.95)
        outside += not low <= runs[10] <= high
    assert 60 <= outside <= 140  # 5% of 2000 is 100


def test_the_allowance_needs_enough_runs_and_is_never_below_the_tolerance():
    assert history_allowance(NIGHTS[:9], tolerance=0.10) is None
    quiet = history_allowance(NIGHTS, tolerance=0.10)
    assert quiet is not None and quiet.runs == 12
    assert quiet.fraction("lower") == pytest.approx(0.10) and quiet.fraction("higher") == pytest.approx(0.10)
    noisy = history_allowance([v**6 for v in NIGHTS], tolerance=0.10)
    assert noisy is not None and noisy.fraction("lower") > 0.2
    assert history_allowance(NIGHTS * 5, tolerance=0.1).runs == 30  # the latest runs only


def latency(ms, kind="timing", better="lower"):
    return Metric(name="latency", unit="s", better=better, kind=kind, value=ms * 1e-3)


def test_the_verdict_uses_the_history_band_and_says_so():
    band = history_allowance([v**6 * 1e-3 for v in NIGHTS], tolerance=0.10)
    high = band.high * 1e3
    assert judge(latency(high * 0.99), None, 0.10, band).status == UNCHANGED
    verdict = judge(latency(high * 1.01), None, 0.10, band)
    assert verdict.status == REGRESSED and verdict.tolerance == pytest.approx(band.fraction("lower"))
    assert "history band from 12 runs (99% prediction interval)" in verdict.describe()
    assert judge(latency(band.low * 1e3 * 0.99), None, 0.10, band).status == IMPROVED
    assert judge(latency(band.low * 1e3 * 0.99, better="higher"), None, 0.10, band).status == REGRESSED


def test_memory_keeps_its_own_rule():
    band = history_allowance([1e-3] * 10, tolerance=0.05)
    assert judge(latency(5.0, kind="memory"), None, 0.05, band).status == NEW


def test_a_step_is_found_where_it_happened():
    rng = random.Random(3)
    values = [rng.lognormvariate(0, 0.02) for _ in range(15)] + [1.2 * rng.lognormvariate(0, 0.02) for _ in range(10)]
    (step,) = level_steps(values)
    assert step.index == 15 and step.change == pytest.approx(0.2, abs=0.03)
    (down,) = level_steps([1 / v for v in values])
    assert down.index == 15 and down.change < 0


def test_noise_and_single_outliers_are_not_steps():
    rng = random.Random(5)
    assert level_steps([rng.lognormvariate(0, 0.03) for _ in range(40)]) == ()
    assert level_steps([1.0, 1.0, 1.0, 5.0, 1.0, 1.0, 1.0, 1.0]) == ()
    assert level_steps([1.0, 2.0, 1.0]) == ()


def test_exact_repeats_step_on_any_change():
    (step,) = level_steps([2000.0] * 4 + [2100.0] * 4)
    assert (step.index, step.before, step.after) == (4, 2000.0, 2100.0)


def test_the_band_restarts_after_a_step_that_later_runs_bear_out():
    level = [1.00, 1.02, 0.99, 1.01, 0.98, 1.02, 1.00, 0.99, 1.01, 1.00, 1.02, 0.99]
    stepped = level + [1.3 * v for v in level]
    band = history_allowance(stepped, 0.10)
    assert band is not None and band.runs == len(level) and band.reference == pytest.approx(1.3, rel=0.02)
    assert history_allowance(level + [1.3, 1.31], 0.10).runs == len(level) + 2
