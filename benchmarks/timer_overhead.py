"""Overhead of `aot_perf.measure` per sample on CPU, and agreement with torch.utils.benchmark.

    python -m benchmarks.timer_overhead [--repeats 5]

Prints one table; quote its numbers in docs/benchmarks.md with this command and the machine.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch.utils.benchmark import Timer as TorchTimer

from benchmarks.common import script_parser
from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan
from pytest_aotperf.recorder import PerfRecorder

CALLS = 200_000


def noop() -> None:
    return None


def loop_ns(body, calls: int = CALLS) -> float:
    """Wall-clock ns per iteration of `body(calls)`."""
    start = time.perf_counter_ns()
    body(calls)
    return (time.perf_counter_ns() - start) / calls


def bare_calls(calls: int) -> None:
    for _ in range(calls):
        noop()


def bare_timed(calls: int) -> None:
    clock = time.perf_counter_ns
    elapsed = []
    for _ in range(calls):
        start = clock()
        noop()
        elapsed.append(clock() - start)


def measure_timed(calls: int) -> None:
    CpuTimer().time_calls(noop, calls)


def overheads(repeats: int) -> dict:
    rows = {"calls only": [], "bare perf_counter_ns loop": [], "aot_perf.measure timer": []}
    for _ in range(repeats):
        base = loop_ns(bare_calls)
        rows["calls only"].append(base)
        rows["bare perf_counter_ns loop"].append(loop_ns(bare_timed))
        rows["aot_perf.measure timer"].append(loop_ns(measure_timed))
    return {name: statistics.median(values) for name, values in rows.items()}


def agreement(repeats: int) -> list:
    """Median of measure against blocked_autorange's median, interleaved, per workload."""
    torch.set_num_threads(1)
    a = torch.randn(256, 256)
    mlp = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.GELU(), torch.nn.Linear(512, 10)).eval()
    x = torch.randn(16, 256)
    workloads = {
        "matmul 256x256 fp32": (lambda: torch.mm(a, a)),
        "MLP forward, batch 16": (lambda: mlp(x)),
        "python no-op": noop,
    }
    rows = []
    with torch.no_grad():
        for name, fn in workloads.items():
            ours, theirs = [], []
            for _ in range(repeats):
                recorder = PerfRecorder.standalone(name, "cpu", plan=SamplingPlan(max_time_s=1.0, max_samples=100_000))
                ours.append(recorder.measure(fn).value)
                theirs.append(TorchTimer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=1.0).median)
            rows.append((name, statistics.median(ours), statistics.median(theirs)))
    return rows


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    per_call = overheads(args.repeats)
    calls_only = per_call["calls only"]
    print("\nper-sample cost of a no-op call (median of", args.repeats, "runs of", CALLS, "calls)")
    print(f"{'loop':28} {'ns/iteration':>12} {'overhead ns':>12}")
    for name, value in per_call.items():
        print(f"{name:28} {value:12.1f} {value - calls_only:12.1f}")
    print("\nmedian per call: aot_perf.measure vs torch.utils.benchmark.Timer.blocked_autorange")
    print(f"{'workload':24} {'measure':>12} {'blocked_autorange':>18} {'ratio':>7}")
    for name, ours, theirs in agreement(args.repeats):
        print(f"{name:24} {ours * 1e6:10.3f}us {theirs * 1e6:16.3f}us {ours / theirs:7.3f}")


if __name__ == "__main__":
    main()
