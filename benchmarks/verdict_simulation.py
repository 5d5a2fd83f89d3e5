"""How often do the verdict rules fail a night with nothing changed, and how often do they catch a slowdown?

Drives the project's own verdict code (`judge`, `history_allowance`, `aotperf ab`'s `judge_rounds`) with
synthetic runs and prints, per setting, the false failures per 100 nightly runs of 100 checks and the
detection rate of 1.1x, 1.2x, 1.5x and 2x slowdowns.

The model of one check (one metric of one test on one night), lognormal throughout:
- each pytest process draws SAMPLES samples, each the level times exp(N(0, within)) (within-run noise);
- each night shifts the level by exp(N(0, shift)) (run-to-run shift: the machine and the day), and
  each process by exp(N(0, jitter)) more (process to process within one job);
- the rules: `baseline-1` a baseline from one earlier night; `baseline-3` from three (`refresh --runs 3`:
  the last run's samples, the three runs' values); `history-10` the band of ten earlier nights
  (`history_allowance`, judge's `allowance`); `ab-3` base and head in one job, three processes each,
  sharing the night's shift (what `aotperf ab` does); `host-5`, `host-10`, `host-20` the default rule of a
  host-speed metric (`judge_host_speed`): the band of the baseline's 5, 10 or 20 recorded runs, each an
  earlier night's process (run with `--jitter 0.3`, the process-to-process noise of host speed measured on
  the H200s).
With `--slow-processes RATE:FACTOR`, that share of processes also runs FACTOR times slower: the heavy tail of
a shared machine, where most processes agree within a few percent and now and then one runs 1.6x slower
while another job holds the cores (docs/benchmarks.md, section 16).
Each check draws its own shifts, independent of the other 99 checks of its night: the worst case for a
night of 100 checks. Tolerance 10% (the default).

Every verdict scales with the slowdown (the bootstrap picks the same indices whatever the values), so one
verdict per trial gives the slowdown at which that trial starts to fail: (1 + allowance) / low end of the
ratio's interval. The rates are counts over trials of that critical slowdown; for the first CHECKED trials
of each setting, `judge` is called again at each slowdown and must agree. Where too few trials fail to
count the false-failure rate, the `estimated` column estimates it: for the rules that judge a point against
a band (history, host), from each trial's band and the known distribution of an unchanged run
(`beyond_band`); for the others, from a normal fit of the log critical slowdowns.

    python -m benchmarks.verdict_simulation --trials 300
    python -m benchmarks.verdict_simulation --trials 300 --rules host-5,host-10,host-20 --jitter 0.3
    python -m benchmarks.verdict_simulation --trials 300 --rules host-5,host-10,host-20 --jitter 0.03 \
        --slow-processes 0.05:1.6
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

from benchmarks.common import script_parser
from pytest_aotperf.ab.judge import judge_rounds
from pytest_aotperf.history.bands import history_allowance
from pytest_aotperf.host_speed import judge_host_speed
from pytest_aotperf.metrics import Metric
from pytest_aotperf.verdict import INFO, NEW, NOISY, REGRESSED, Verdict, judge

TOLERANCE = 0.10
SAMPLES = 20
"""Samples per process (--aot-min-samples' default)."""
SLOWDOWNS = (1.1, 1.2, 1.5, 2.0)
WITHIN = (0.01, 0.05, 0.15)
SHIFTS = (0.0, 0.05, 0.10, 0.20)
STRICT_CONFIDENCE = 0.9998
"""A band one night in 100 of 100 checks oversteps by chance: 1e-4 a check above it."""
RULES = ("baseline-1", "baseline-3", "history-10", "history-10-strict", "ab-3", "host-5", "host-10", "host-20")
BANDED_RULES = ("host-", "history-")
"""Rules whose verdict is a point against a band: their false-failure rate is computed from each trial's
band (`beyond_band`) rather than fitted."""
HISTORY_TRIALS_FACTOR = 20
"""The history and host rules need no bootstrap, so they run this many times more trials."""
CHECKED = 10
CHECKS_PER_NIGHT = 100

Judged = Callable[[float], Verdict]
"""A trial: the verdict when head (or tonight's run) is slowed down by the given factor."""


@dataclass(frozen=True)
class ProcessNoise:
    """How a process's level moves from its night's: lognormally, and a share of processes slower still."""

    jitter: float
    """The log-scale sigma of a process's level."""
    slow_rate: float = 0.0
    """The share of processes that run `slow_factor` times slower besides."""
    slow_factor: float = 1.0

    def level(self, rng: random.Random) -> float:
        lognormal = math.exp(rng.gauss(0, self.jitter))
        # No draw without slow processes, so the random stream, and every earlier table, stays as it was.
        return lognormal * self.slow_factor if self.slow_rate and rng.random() < self.slow_rate else lognormal

    def beyond(self, edge: float, sigma: float) -> float:
        """The chance that a process's level, shifted further by a lognormal of `sigma`, exceeds `edge`."""
        shift = statistics.NormalDist(0, sigma)
        tail = 1 - shift.cdf(math.log(edge))
        slow_tail = 1 - shift.cdf(math.log(edge / self.slow_factor))
        return (1 - self.slow_rate) * tail + self.slow_rate * slow_tail


def process(rng: random.Random, level: float, within: float, noise: ProcessNoise) -> List[float]:
    """One pytest process's samples."""
    level *= noise.level(rng)
    return [level * math.exp(rng.gauss(0, within)) for _ in range(SAMPLES)]


def metric(samples: Sequence[float], factor: float = 1.0) -> Metric:
    return Metric.from_samples("latency", [s * factor for s in samples])


def night(rng: random.Random, shift: float) -> float:
    return math.exp(rng.gauss(0, shift))


def baseline_trial(runs: int) -> Callable[[random.Random, float, float, ProcessNoise], Judged]:
    def trial(rng: random.Random, within: float, shift: float, noise: ProcessNoise) -> Judged:
        earlier = [metric(process(rng, night(rng, shift), within, noise)) for _ in range(runs)]
        stored = earlier[-1].stored(runs=tuple(m.value for m in earlier if m.value is not None))
        tonight = process(rng, night(rng, shift), within, noise)
        return lambda factor: judge(metric(tonight, factor), stored, TOLERANCE)

    return trial


def history_trial(confidence: float) -> Callable[[random.Random, float, float, ProcessNoise], Judged]:
    def trial(rng: random.Random, within: float, shift: float, noise: ProcessNoise) -> Judged:
        earlier = [statistics.median(process(rng, night(rng, shift), within, noise)) for _ in range(10)]
        allowance = history_allowance(earlier, TOLERANCE, confidence=confidence)
        tonight = process(rng, night(rng, shift), within, noise)
        return lambda factor: judge(metric(tonight, factor), None, TOLERANCE, allowance)

    return trial


def ab_trial(rng: random.Random, within: float, shift: float, noise: ProcessNoise) -> Judged:
    level = night(rng, shift)
    base = [metric(process(rng, level, within, noise)) for _ in range(3)]
    head = [process(rng, level, within, noise) for _ in range(3)]
    return lambda factor: judge_rounds(base, [metric(h, factor) for h in head], TOLERANCE)


def host_trial(runs: int) -> Callable[[random.Random, float, float, ProcessNoise], Judged]:
    def trial(rng: random.Random, within: float, shift: float, noise: ProcessNoise) -> Judged:
        earlier = [metric(process(rng, night(rng, shift), within, noise)) for _ in range(runs)]
        stored = earlier[-1].stored(runs=tuple(m.value for m in earlier if m.value is not None))
        tonight = process(rng, night(rng, shift), within, noise)
        return lambda factor: judge_host_speed(metric(tonight, factor), stored, TOLERANCE)

    return trial


TRIALS = {
    "baseline-1": baseline_trial(1),
    "baseline-3": baseline_trial(3),
    "history-10": history_trial(0.99),
    "history-10-strict": history_trial(STRICT_CONFIDENCE),
    "ab-3": ab_trial,
    "host-5": host_trial(5),
    "host-10": host_trial(10),
    "host-20": host_trial(20),
}


def critical_slowdown(verdict: Verdict) -> float:
    """The slowdown beyond which this trial's verdict is `regressed`; never where it is not judged:
    `noisy` (the spread is relative, so noisy at every slowdown), `new` (the history rule after a
    level step it found in the earlier nights, with too few nights since) or `info` (a host-speed
    metric with too few runs)."""
    if verdict.status in (NOISY, NEW, INFO):
        return math.inf
    assert verdict.current is not None and verdict.baseline is not None
    low = verdict.interval[0] if verdict.interval is not None else verdict.current / verdict.baseline
    return (1 + verdict.tolerance + verdict.drift) / low


def beyond_band(verdict: Verdict, within: float, shift: float, noise: ProcessNoise) -> float:
    """The chance that an unchanged run falls beyond a banded verdict's upper edge, given the band drawn.

    Unchanged, tonight's value is the median of SAMPLES samples of a process whose level is the true
    level (1) shifted by the night and the process: lognormal, of log-variance shift^2 + jitter^2 plus
    the median's (pi / 2) within^2 / SAMPLES, the share of slow processes that much slower again.
    Averaged over trials, an unbiased estimate of the false rate that needs no failing trial to count.
    """
    if verdict.status in (NOISY, NEW, INFO) or verdict.baseline is None:
        return 0.0
    edge = verdict.baseline * (1 + verdict.tolerance + verdict.drift)
    sigma = math.sqrt(shift**2 + noise.jitter**2 + math.pi / 2 * within**2 / SAMPLES)
    return noise.beyond(edge, sigma)


def simulate(setting: Tuple[str, float, float, ProcessNoise, int, int]) -> Dict[str, float]:
    rule, within, shift, noise, trials, seed = setting
    rng = random.Random(seed)
    criticals, beyond = [], []
    for index in range(trials):
        judged = TRIALS[rule](rng, within, shift, noise)
        unchanged = judged(1.0)
        critical = critical_slowdown(unchanged)
        beyond.append(beyond_band(unchanged, within, shift, noise))
        if index < CHECKED:
            for factor in (1.0, *SLOWDOWNS):
                if abs(factor / critical - 1) > 1e-9 and (judged(factor).status == REGRESSED) != (factor > critical):
                    raise AssertionError(f"{setting}: judge at {factor}x disagrees with the critical slowdown")
        criticals.append(critical)
    logs = [math.log(c) for c in criticals if math.isfinite(c)]  # trials not judged never fail
    false_rate = sum(c < 1 for c in criticals) / trials
    if rule.startswith(BANDED_RULES):
        tail = statistics.fmean(beyond)
    else:
        fit = statistics.NormalDist(statistics.fmean(logs), statistics.stdev(logs)) if len(logs) > 1 else None
        tail = fit.cdf(0.0) * len(logs) / trials if fit is not None else 0.0
    result = {"trials": trials, "false": false_rate, "not judged": 1 - len(logs) / trials, "tail": tail}
    result.update({f"{s}x": sum(c < s for c in criticals) / trials for s in SLOWDOWNS})
    return result


def per_100_nights(check_rate: float) -> float:
    """Expected nights with a false failure among 100 nights of CHECKS_PER_NIGHT independent checks."""
    return 100 * (1 - (1 - check_rate) ** CHECKS_PER_NIGHT)


def slow_processes(text: str) -> Tuple[float, float]:
    """`RATE:FACTOR` (as 0.05:1.6) as numbers: a rate within [0, 1], a factor of at least 1."""
    try:
        rate, factor = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give RATE:FACTOR, as 0.05:1.6") from None
    if not (0 <= rate <= 1 and factor >= 1):
        raise argparse.ArgumentTypeError(f"{text!r}: the rate is within 0 and 1, the factor at least 1")
    return rate, factor


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--trials", type=int, default=300, help="trials per setting (history: 20 times more)")
    parser.add_argument("--jitter", type=float, default=0.02, help="process-to-process noise within a job")
    parser.add_argument(
        "--slow-processes",
        type=slow_processes,
        default=(0.0, 1.0),
        metavar="RATE:FACTOR",
        help="the share of processes that run FACTOR times slower besides (a shared machine's tail), e.g. 0.05:1.6",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rules", default=",".join(RULES), help="comma-separated subset of " + ", ".join(RULES))
    args = parser.parse_args()
    rules = [rule for rule in args.rules.split(",") if rule]
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        parser.error(f"unknown rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}")
    noise = ProcessNoise(args.jitter, *args.slow_processes)
    settings = [
        (
            rule,
            within,
            shift,
            noise,
            args.trials * (HISTORY_TRIALS_FACTOR if rule.startswith(BANDED_RULES) else 1),
            seed,
        )
        for seed, (within, shift, rule) in enumerate((w, s, r) for w in WITHIN for s in SHIFTS for r in RULES)
        if rule in rules
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(simulate, settings))
    slow = f" and {noise.slow_rate:.0%} of processes {noise.slow_factor:g}x slower" if noise.slow_rate else ""
    print(
        f"{len(settings)} settings, {args.trials} trials each (history, host: {args.trials * HISTORY_TRIALS_FACTOR}), "
        f"{SAMPLES} samples per process, process jitter {noise.jitter:.0%}{slow}, tolerance {TOLERANCE:.0%}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    print()
    print(
        "| within-run | run-to-run | rule | false failures / 100 nights (counted) | (estimated) | "
        + " | ".join(f"detects {s}x" for s in SLOWDOWNS)
        + " | not judged (noisy, new) |"
    )
    print("|---|---|---|---|---|" + "---|" * (len(SLOWDOWNS) + 1))
    for (rule, within, shift, *_), result in zip(settings, results):
        counted = per_100_nights(result["false"])
        bound = f"< {per_100_nights(3 / result['trials']):.3g}" if result["false"] == 0 else f"{counted:.3g}"
        print(
            f"| {within:.0%} | {shift:.0%} | {rule} | {bound} | {per_100_nights(result['tail']):.3g} | "
            + " | ".join(f"{result[f'{s}x']:.0%}" for s in SLOWDOWNS)
            + f" | {result['not judged']:.0%} |"
        )


if __name__ == "__main__":
    main()
