"""Host-speed timings judged by the spread of their own runs; environment changes named beside verdicts."""

import pytest

from pytest_aotperf.ab.judge import judge_rounds
from pytest_aotperf.environment import transparent_hugepage
from pytest_aotperf.environment_change import ENVIRONMENT_CHANGED, environment_changes, host_count_not_comparable
from pytest_aotperf.host_speed import (
    HOST_MIN_RUNS,
    host_band,
    is_device_bound,
    judge_host_speed,
    judge_host_timing,
    judged_by_spread,
)
from pytest_aotperf.marks import _parse
from pytest_aotperf.metrics import Metric
from pytest_aotperf.verdict import IMPROVED, INFO, NEW, REGRESSED, UNCHANGED, beside_environment, judge


def timing(value, runs=(), host_speed=True):
    samples = [value * (1 + 0.01 * (i % 3 - 1)) for i in range(21)]
    metric = Metric.from_samples("latency", samples, host_speed=host_speed)
    return metric.stored(tuple(runs)) if runs else metric


def test_a_latency_is_device_bound_when_the_host_share_is_within_half_its_tolerance():
    assert is_device_bound(126.6e-6, 124.7e-6, 0.10)  # cudagraph encoder on the H200: 1.5% host
    assert not is_device_bound(161.9e-6, 15.5e-6, 0.10)  # eager MLP: launch-bound
    assert not is_device_bound(100e-6, 94e-6, 0.10)
    assert is_device_bound(100e-6, 94e-6, 0.20)
    assert is_device_bound(100e-6, 120e-6, None)  # device time above latency


def test_with_fewer_runs_than_needed_a_host_speed_metric_is_information_with_the_reason():
    baseline = timing(100e-6, runs=(100e-6, 110e-6))
    verdict = judge_host_speed(timing(200e-6), baseline, 0.10)
    assert verdict.status == INFO
    assert verdict.change == pytest.approx(1.0)
    assert verdict.note == f"host-bound: 2 runs, needs {HOST_MIN_RUNS}; shown, not judged"


def test_the_band_of_many_runs_passes_process_noise_and_fails_a_change_far_beyond_it():
    runs = (100e-6, 130e-6, 90e-6, 160e-6, 110e-6, 120e-6, 95e-6, 140e-6)
    baseline = timing(100e-6, runs=runs)
    assert judge_host_speed(timing(175e-6), baseline, 0.10).status == UNCHANGED
    regressed = judge_host_speed(timing(2e-3), baseline, 0.10)
    assert regressed.status == REGRESSED
    assert "8 runs" in regressed.note
    assert judge_host_speed(timing(5e-6), baseline, 0.10).status == IMPROVED


def test_a_quiet_history_gives_a_band_no_narrower_than_the_tolerance():
    band = host_band([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 0.10, "baseline runs")
    assert band is not None
    assert band.low == pytest.approx(0.9) and band.high == pytest.approx(1.1)
    assert host_band([1.0] * (HOST_MIN_RUNS - 1), 0.10, "baseline runs") is None


def test_history_runs_count_where_they_hold_enough():
    baseline = timing(100e-6, runs=(100e-6,))
    history = [100e-6, 101e-6, 99e-6, 100e-6, 102e-6, 98e-6]
    verdict = judge_host_speed(timing(150e-6), baseline, 0.10, history)
    assert verdict.status == REGRESSED
    assert "history" in verdict.note


def test_without_a_baseline_a_host_speed_metric_is_new():
    assert judge_host_speed(timing(100e-6), None, 0.10).status == NEW


def test_the_environment_records_the_selected_transparent_huge_page_mode(tmp_path):
    setting = tmp_path / "enabled"
    setting.write_text("always [madvise] never\n")
    assert transparent_hugepage(setting) == "madvise"
    assert transparent_hugepage(tmp_path / "absent") is None


def test_environment_changes_name_each_entry_that_differs():
    before = {"torch": "2.11.0+cu130", "python": "3.12.3", "driver": "580.1", "device": "NVIDIA H200"}
    after = {"torch": "2.13.0+cpu", "python": "3.12.3", "driver": "580.1", "device": "NVIDIA H200", "vllm": "0.26"}
    changes = environment_changes(before, after)
    assert changes == ("torch 2.11.0+cu130 -> 2.13.0+cpu",)
    assert host_count_not_comparable("python_calls_per_call", changes) == changes
    assert host_count_not_comparable("prefill_aten_ops_per_call", changes) == changes
    assert host_count_not_comparable("kernels_per_call", changes) == ()
    assert host_count_not_comparable("python_calls_per_call", ("driver 1 -> 2",)) == ()


def test_host_speed_metrics_and_durations_are_judged_by_spread_device_timings_and_counts_not():
    assert judged_by_spread(timing(1e-3))
    assert not judged_by_spread(timing(1e-3, host_speed=False))
    assert judged_by_spread(Metric("compile_s", "s", "lower", "duration", value=2.0))
    assert not judged_by_spread(Metric("graphs", "count", "lower", "count", value=2.0))
    assert not judged_by_spread(Metric("host_overhead", "s", "lower", "timing", value=1.0, informational=True))


def test_host_speed_survives_the_json_round_trip_and_is_written_only_when_set():
    marked = timing(1e-3)
    assert marked.to_json()["host_speed"] is True
    assert Metric.from_json("latency", marked.stored().to_json(), "x").host_speed
    assert "host_speed" not in timing(1e-3, host_speed=False).to_json()


def test_an_environment_change_flags_the_verdict_and_makes_host_counts_not_comparable():
    changes = ("torch 2.11.0 -> 2.13.0",)
    count = Metric("python_calls_per_call", "count", "lower", "count", value=40.0)
    regressed = judge(count, Metric("python_calls_per_call", "count", "lower", "count", value=30.0), 0.1)
    assert regressed.status == REGRESSED
    not_comparable = beside_environment(regressed, changes)
    assert (not_comparable.status, not_comparable.note) == (INFO, "not comparable across torch 2.11.0 -> 2.13.0")
    assert ENVIRONMENT_CHANGED in not_comparable.flags
    kernels = beside_environment(judge(count, count, 0.1), ("driver 1 -> 2",))
    assert kernels.status == UNCHANGED and kernels.note == "environment changed: driver 1 -> 2"
    new = judge(count, None, 0.1)
    assert beside_environment(new, changes) == new  # nothing to compare with: nothing to say


def test_the_marker_chooses_the_host_rule_and_refuses_others():
    assert _parse({"host_timings": "tolerance"}).host_timings == "tolerance"
    assert _parse({}).host_timings is None
    assert _parse({"host_timings": "info"}).host_timings == "info"
    with pytest.raises(ValueError, match="host_timings='fixed'; accepted: 'spread', 'tolerance', 'info'"):
        _parse({"host_timings": "fixed"})


def test_ab_judges_host_speed_rounds_by_their_spread_once_there_are_enough():
    rounds = [timing(v) for v in (100e-6, 104e-6, 97e-6, 102e-6, 108e-6)]
    assert judge_rounds(rounds[:2], [timing(200e-6)] * 2, 0.10).status == INFO
    assert judge_rounds(rounds, [timing(130e-6)] * 5, 0.10).status == UNCHANGED  # within 5 rounds' band
    assert judge_rounds(rounds, [timing(130e-6)] * 5, 0.10, host_rule="tolerance").status == REGRESSED
    assert judge_rounds(rounds, [timing(1e-3)] * 5, 0.10).status == REGRESSED
    assert judge_rounds(rounds, [timing(1e-3)] * 5, 0.10, host_rule="info").status == INFO


def test_the_info_rule_compares_a_host_speed_metric_and_never_judges_it_the_others_judge():
    baseline = timing(100e-6, runs=(100e-6, 104e-6, 97e-6, 102e-6, 108e-6))
    shown = judge_host_timing("info", timing(300e-6), baseline, 0.10)
    assert (shown.status, shown.baseline, shown.change) == (INFO, baseline.value, pytest.approx(2.0))
    assert shown.note == "host-bound: shown, not judged (host_timings='info')"
    assert judge_host_timing("info", timing(300e-6), None, 0.10).status == NEW
    assert judge_host_timing("spread", timing(300e-6), baseline, 0.10).status == REGRESSED
    assert judge_host_timing("tolerance", timing(105e-6), baseline, 0.10).status == UNCHANGED
