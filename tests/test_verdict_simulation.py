"""benchmarks.verdict_simulation: the slowdown at which a trial starts to fail, and the trials it cannot judge."""

import argparse
import math
import random
from statistics import NormalDist

import pytest

from benchmarks import verdict_simulation as simulation
from pytest_aotperf.verdict import INFO, NEW, NOISY, UNCHANGED, Verdict

NOISE = simulation.ProcessNoise(0.3)


def verdict(status, interval=None, drift=0.0):
    return Verdict("latency", status, 1.0, 1.0, "s", 0.10, change=0.0, interval=interval, drift=drift)


def test_a_trial_fails_beyond_the_allowance_over_the_low_end_of_its_interval():
    assert simulation.critical_slowdown(verdict(UNCHANGED, (0.95, 1.05), drift=0.05)) == pytest.approx(1.15 / 0.95)


@pytest.mark.parametrize("status", [NOISY, NEW, INFO])
def test_a_trial_that_is_not_judged_never_fails(status):
    assert simulation.critical_slowdown(verdict(status)) == math.inf


def test_an_ab_trial_agrees_with_its_critical_slowdown_at_every_slowdown():
    result = simulation.simulate(("ab-3", 0.15, 0.0, NOISE, 12, 7))
    assert result["trials"] == 12 and 0 <= result["not judged"] <= 1 and result["2.0x"] >= result["1.1x"]


def test_host_trials_are_judged_from_five_runs_on_and_rarely_fail_unchanged():
    five, twenty = (simulation.simulate((rule, 0.01, 0.0, NOISE, 20, 3)) for rule in ("host-5", "host-20"))
    assert five["not judged"] == 0 and twenty["not judged"] == 0
    assert 0 <= twenty["tail"] < 1e-3


def test_the_chance_beyond_a_band_is_that_of_a_normal_tail_on_the_log_scale():
    edge_at_two_sigma = Verdict("latency", UNCHANGED, 1.0, math.exp(0.6) / 1.1, "s", 0.10)
    assert simulation.beyond_band(edge_at_two_sigma, 0.0, 0.0, NOISE) == pytest.approx(0.02275, rel=1e-3)
    assert simulation.beyond_band(verdict(INFO), 0.0, 0.0, NOISE) == 0.0


def test_slow_processes_add_their_share_of_the_tail_beyond_the_slowed_edge():
    edge = Verdict("latency", UNCHANGED, 1.0, math.exp(0.6) / 1.1, "s", 0.10)  # 2 sigma; 1.6x slower: 0.43 sigma
    slow = simulation.ProcessNoise(0.3, slow_rate=0.05, slow_factor=1.6)
    above_slowed = 1 - NormalDist().cdf((0.6 - math.log(1.6)) / 0.3)
    assert simulation.beyond_band(edge, 0.0, 0.0, slow) == pytest.approx(0.95 * 0.02275 + 0.05 * above_slowed, rel=1e-3)


def test_a_slow_process_share_is_drawn_at_its_rate():
    noise, rng = simulation.ProcessNoise(0.0, slow_rate=0.25, slow_factor=2.0), random.Random(1)
    levels = [noise.level(rng) for _ in range(4000)]
    assert set(levels) == {1.0, 2.0} and levels.count(2.0) / 4000 == pytest.approx(0.25, abs=0.03)


@pytest.mark.parametrize("text", ["0.05", "a:b", "1.5:2", "0.1:0.5"])
def test_a_slow_process_setting_out_of_range_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="RATE:FACTOR|rate is within"):
        simulation.slow_processes(text)
