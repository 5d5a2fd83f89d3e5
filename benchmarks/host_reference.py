"""Does a host-speed reference, timed between sample blocks, narrow host-bound latency's spread across processes?

One child process per run measures a small eager MLP (batch 1; 12 layers of 64) with `aot_perf.measure`
(latency, and on CUDA device time and host overhead) in blocks, timing the host reference
(`measure.host_reference`) between blocks. The parent prints each process's medians and, over the
processes, the spread (max / min) of: latency, latency / reference, host overhead / reference.

    python -m benchmarks.host_reference --processes 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from typing import Dict, List

from benchmarks.common import child_environment, module_command, script_parser

BLOCKS = 10


def one_process() -> Dict[str, float]:
    import torch
    from torch import nn

    from pytest_aotperf.measure.host_reference import host_reference_ns, reference_block_ns
    from pytest_aotperf.measure.timing import SamplingPlan
    from pytest_aotperf.recorder import PerfRecorder

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.ReLU()) for _ in range(12)]).to(device).eval()
    x = torch.randn(1, 64, device=device)
    plan = SamplingPlan(warmup_s=0.05, min_samples=50, max_samples=200, max_time_s=0.2)
    latency, device_s, references = [], [], [host_reference_ns()]
    with torch.no_grad():
        for block in range(BLOCKS):
            recorder = PerfRecorder.standalone(f"block-{block}", device, plan=plan)
            measured = recorder.measure(model, x)
            latency.append(measured.value)
            gpu = next(m for m in recorder.metrics if m.name == "gpu_time")
            if gpu.value is not None:
                device_s.append(gpu.value)
            references.append(statistics.median(reference_block_ns() for _ in range(5)))
    result = {"device": device, "latency_s": statistics.median(latency), "reference_ns": statistics.median(references)}
    if device_s:
        result["gpu_time_s"] = statistics.median(device_s)
    return result


def spread(values: List[float]) -> float:
    return max(values) / min(values)


def main() -> None:
    parser = script_parser(__doc__)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_process()))
        return
    runs = []
    for index in range(args.processes):
        output = subprocess.run(
            module_command("benchmarks.host_reference", "--child"),
            env=child_environment(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        run = json.loads(output.strip().splitlines()[-1])
        runs.append(run)
        overhead = run["latency_s"] - run.get("gpu_time_s", 0.0)
        print(
            f"process {index}: {run['device']} latency {run['latency_s'] * 1e6:.1f} µs, reference "
            f"{run['reference_ns']:.0f} ns/op, latency/reference {run['latency_s'] * 1e9 / run['reference_ns']:.1f}, "
            f"host overhead {overhead * 1e6:.1f} µs",
            flush=True,
        )
    latency = [run["latency_s"] for run in runs]
    ratio = [run["latency_s"] / run["reference_ns"] for run in runs]
    overhead = [(run["latency_s"] - run.get("gpu_time_s", 0.0)) / run["reference_ns"] for run in runs]
    print(f"\nspread over {len(runs)} processes (max/min): latency {spread(latency):.2f}x, ", end="")
    print(f"latency/reference {spread(ratio):.2f}x, host overhead/reference {spread(overhead):.2f}x")
    if "gpu_time_s" in runs[0]:
        print(f"gpu_time {spread([run['gpu_time_s'] for run in runs]):.3f}x")


if __name__ == "__main__":
    main()
