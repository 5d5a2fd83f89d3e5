"""Does aot_perf's GPU timing agree with triton.testing.do_bench? And what do the health and memory probes read?

Times 4096x4096 and 2048x2048 bf16 matmuls and a small launch-bound op with `PerfRecorder.measure`
(CUDA events, L2 flushed between samples as do_bench does) and with do_bench (median); they must
agree within 3%. The big matmul draws the card to its power cap, where the clock depends on how
long and how densely it has been running: so before every measurement, by either method, the
kernel runs back to back for SOAK_S, and both then sample for about as long (do_bench's rep).
Prints the NVML SM clock and throttle reasons around each measurement, and the memory metrics
(torch peaks, NVML device memory) of models of known parameter size.

    python -m benchmarks.gpu_timing_agreement --out $OUT/gpu_timing_agreement.json
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import torch
import triton

from benchmarks.common import add_out_file, cuda_environment, script_parser, write_json
from example_tests.models import MODELS
from pytest_aotperf.measure.gpu_health import read_clock
from pytest_aotperf.measure.timing import L2Flusher, SamplingPlan
from pytest_aotperf.memory_monitor import MemoryMonitor
from pytest_aotperf.recorder import PerfRecorder

AGREEMENT = 0.03
ROUNDS = 3
"""Each method runs ROUNDS times, alternating, so that clock drift (power capping after the
matmul) affects both alike; each method's value is the median of its round medians."""
PLAN = SamplingPlan(warmup_s=0.1, min_samples=100, max_samples=2000, max_time_s=0.3)
DO_BENCH_REP_MS = 300
SOAK_S = 1.0


def kernels():
    a = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
    small = torch.randn(1024, device="cuda")
    c = torch.randn(2048, 2048, device="cuda", dtype=torch.bfloat16)
    return {
        "add_1024_fp32": lambda: small.add_(1.0),
        "matmul_2048_bf16": lambda: c @ c,
        "matmul_4096_bf16": lambda: a @ b,
    }


def soak(fn, flush):
    """Run `fn` back to back, the L2 flushed between calls, for SOAK_S: a steady clock and power state."""
    end = time.perf_counter() + SOAK_S
    while time.perf_counter() < end:
        for _ in range(50):
            flush()
            fn()
        torch.cuda.synchronize()


def agreement():
    results = []
    flush = L2Flusher("cuda")
    for name, fn in kernels().items():
        recorder = PerfRecorder.standalone(name, "cuda", plan=PLAN)
        clock_before = read_clock()
        metrics, theirs = [], []
        for round_index in range(ROUNDS):
            soak(fn, flush)
            metrics.append(recorder.measure(fn, name=f"{name}_{round_index}", flush_l2=True))
            soak(fn, flush)
            theirs.append(triton.testing.do_bench(fn, warmup=100, rep=DO_BENCH_REP_MS, return_mode="median") * 1e-3)
        clock_after = read_clock()
        ours_s, theirs_s = statistics.median(m.value for m in metrics), statistics.median(theirs)
        metric = metrics[-1]
        difference = ours_s / theirs_s - 1
        results.append(
            {
                "kernel": name,
                "aot_perf_median_s": ours_s,
                "do_bench_median_s": theirs_s,
                "aot_perf_round_medians_s": [m.value for m in metrics],
                "do_bench_round_medians_s": theirs,
                "relative_difference": difference,
                "agrees": abs(difference) <= AGREEMENT,
                "samples": metric.summary.n,
                "iqr_s": metric.summary.iqr,
                "flags": sorted({f for m in metrics for f in m.flags}),
                "context": [dict(m.context) for m in metrics],
                "clock_before": dataclasses.asdict(clock_before) if clock_before else None,
                "clock_after": dataclasses.asdict(clock_after) if clock_after else None,
            }
        )
        print(
            f"{name:18} aot_perf {ours_s * 1e6:10.2f} us   do_bench {theirs_s * 1e6:10.2f} us   "
            f"diff {difference:+.2%}   {'AGREE' if abs(difference) <= AGREEMENT else 'DISAGREE'}   "
            f"SM clock {clock_before.sm_clock_mhz if clock_before else '?'}->"
            f"{clock_after.sm_clock_mhz if clock_after else '?'} MHz, flags {results[-1]['flags']}, "
            f"throttle {[dict(m.context).get('throttle_reasons') for m in metrics]}",
            flush=True,
        )
    return results


def wide_mlp():
    """Eight 4096x4096 bf16 layers: 268 MB of parameters, large next to the CUDA context."""
    layers = [torch.nn.Linear(4096, 4096, dtype=torch.bfloat16, device="cuda") for _ in range(8)]
    module = torch.nn.Sequential(*layers).eval()
    return module, lambda batch: (torch.randn(batch, 4096, device="cuda", dtype=torch.bfloat16),)


def memory_of(name, build):
    torch.cuda.empty_cache()
    monitor = MemoryMonitor(use_cuda=True)
    monitor.start()
    module, make = build()
    with torch.no_grad():
        for _ in range(3):
            module(*make(64))
    torch.cuda.synchronize()
    metrics = monitor.finish()
    parameter_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    buffer_bytes = sum(b.numel() * b.element_size() for b in module.buffers())
    row = {
        "model": name,
        "parameter_bytes": parameter_bytes,
        "buffer_bytes": buffer_bytes,
        "metrics": {
            m.name: {"value": m.value, "unavailable": m.unavailable, "context": dict(m.context)} for m in metrics
        },
    }
    shown = ", ".join(
        f"{m.name}={m.value / 2**20:.1f} MiB" if m.value is not None else f"{m.name}: {m.unavailable}" for m in metrics
    )
    print(f"{name:10} parameters {parameter_bytes / 2**20:.1f} MiB; {shown}", flush=True)
    del module
    torch.cuda.empty_cache()
    return row


def main():
    parser = script_parser(__doc__)
    add_out_file(parser)
    args = parser.parse_args()
    timings = agreement()
    memory = [memory_of("encoder", lambda: MODELS["encoder"]("cuda")), memory_of("wide-mlp", wide_mlp)]
    result = {
        **cuda_environment(),
        "triton": triton.__version__,
        "plan": dataclasses.asdict(PLAN),
        "soak_s": SOAK_S,
        "do_bench_rep_ms": DO_BENCH_REP_MS,
        "agreement_bound": AGREEMENT,
        "timings": timings,
        "memory": memory,
    }
    write_json(args.out, result)


if __name__ == "__main__":
    main()
