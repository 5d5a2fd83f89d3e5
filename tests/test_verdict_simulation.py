"""benchmarks.verdict_simulation: the slowdown at which a trial starts to fail, and the trials it cannot judge."""

import math

import pytest

from benchmarks import verdict_simulation as simulation
from pytest_aotperf.verdict import NEW, NOISY, UNCHANGED, Verdict


def verdict(status, interval=None, drift=0.0):
    return Verdict("latency", status, 1.0, 1.0, "s", 0.10, change=0.0, interval=interval, drift=drift)


def test_a_trial_fails_beyond_the_allowance_over_the_low_end_of_its_interval():
    assert simulation.critical_slowdown(verdict(UNCHANGED, (0.95, 1.05), drift=0.05)) == pytest.approx(1.15 / 0.95)


@pytest.mark.parametrize("status", [NOISY, NEW])
def test_a_trial_that_is_not_judged_never_fails(status):
    assert simulation.critical_slowdown(verdict(status)) == math.inf


def test_an_ab_trial_agrees_with_its_critical_slowdown_at_every_slowdown():
    result = simulation.simulate(("ab-3", 0.15, 0.0, 0.3, 12, 7))
    assert result["trials"] == 12 and 0 <= result["not judged"] <= 1 and result["2.0x"] >= result["1.1x"]
