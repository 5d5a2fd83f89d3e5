"""Timings that move with the host's speed, judged by the spread of their own runs rather than a fixed tolerance. Pure.

The host's speed is a property of the process: the same Python loop ran 30 ns per iteration in one
process and 57 ns in the next on one H200 machine, and eager latency of one model 70-123 µs. A
fixed 10% tolerance fails unchanged runs on such numbers. So a metric marked `host_speed` (a
latency whose device time is a small part of it, a rate derived from it, compile, capture and build
times, every timing on a CPU-only machine) is judged against the band its own runs span across
processes and machines: the baseline's recorded runs, or the run history where it holds enough.
Until there are HOST_MIN_RUNS runs it is shown as information, with the reason. On a machine shared
with other jobs, where now and then one process runs 1.6x slower, no few runs show that tail: such a
machine shows these timings as information and judges the exact counts (the `info` rule).
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional, Sequence, Tuple

from .history.bands import Allowance, band_allowance
from .metrics import Metric
from .verdict import INFO, Verdict, judge

HostRule = Literal["spread", "tolerance", "info"]
SPREAD: HostRule = "spread"
"""Host-speed metrics judged by the band of their own runs (the default)."""
TOLERANCE: HostRule = "tolerance"
"""Host-speed metrics judged by the fixed tolerance, as every other metric: for a dedicated, quiet machine."""
INFORMATION: HostRule = "info"
"""Host-speed metrics compared and shown, never judged: for a machine shared with other jobs."""
HOST_RULES: Tuple[HostRule, ...] = (SPREAD, TOLERANCE, INFORMATION)
HOST_MIN_RUNS = 5
"""Runs a host-speed metric needs before its spread is judged; fewer give information only."""
HOST_CONFIDENCE = 0.9999
"""The band's prediction interval: one unchanged check of one metric in 20,000 fails on the slow side."""
BASELINE_RUNS = "baseline runs"


def judged_by_spread(metric: Metric) -> bool:
    """Whether `metric` moves with the host's speed: marked `host_speed` when recorded, or a one-shot duration."""
    return not metric.informational and (metric.host_speed or metric.kind == "duration")


def is_device_bound(latency_s: float, device_s: float, tolerance: Optional[float]) -> bool:
    """Whether a latency is the device's time: the host's share of it is at most half its tolerance (10%
    without one), so even a host twice as slow could not move it beyond its tolerance."""
    allowed = (0.10 if tolerance is None else tolerance) / 2
    return latency_s - device_s <= allowed * latency_s


def host_band(runs: Sequence[float], tolerance: float, source: str) -> Optional[Allowance]:
    """The band the next run should fall in, learned from `runs` (never narrower than `tolerance`);
    None below HOST_MIN_RUNS runs."""
    if len(runs) < HOST_MIN_RUNS or min(runs) <= 0:
        return None
    return band_allowance(runs, tolerance, HOST_CONFIDENCE, source)


def judge_host_speed(
    current: Metric, baseline: Optional[Metric], tolerance: float, history_runs: Sequence[float] = ()
) -> Verdict:
    """`current` against the band of its runs: the history's where it holds HOST_MIN_RUNS, else the
    baseline's; with fewer runs, compared and shown as information, with the reason."""
    use_history = len(history_runs) >= HOST_MIN_RUNS
    runs = history_runs if use_history else baseline.runs if baseline is not None else ()
    band = host_band(runs, tolerance, "history" if use_history else BASELINE_RUNS)
    verdict = judge(current, baseline, tolerance, band)
    if band is not None or verdict.baseline is None or not current.available:
        return verdict  # judged by the band; or new, unavailable, not comparable
    counted = max(len(runs), len(history_runs))
    note = f"host-bound: {counted} run{'s' if counted != 1 else ''}, needs {HOST_MIN_RUNS}; shown, not judged"
    return dataclasses.replace(verdict, status=INFO, note=note)


def judge_host_timing(
    rule: HostRule, current: Metric, baseline: Optional[Metric], tolerance: float, history_runs: Sequence[float] = ()
) -> Verdict:
    """A host-speed metric under `rule`: by the band of its runs (`spread`), by the tolerance (`tolerance`),
    or compared and shown as information (`info`)."""
    if rule == SPREAD:
        return judge_host_speed(current, baseline, tolerance, history_runs)
    verdict = judge(current, baseline, tolerance)
    if rule == TOLERANCE or verdict.baseline is None or not current.available:
        return verdict
    return dataclasses.replace(verdict, status=INFO, note="host-bound: shown, not judged (host_timings='info')")
