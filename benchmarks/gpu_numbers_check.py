"""Device time beside latency on the GPU: does `gpu_time` hold within 2% where per-call latency moves?

The example MLP and CNN, eager, Inductor (no CUDA graphs) and a hand-captured CUDA graph of the
eager module, at batch 1 and 4, measured five times each (the repeats interleaved, so drift
touches every case alike) through `PerfRecorder.measure`, the plugin's own path: per-call latency
(an event pair per call), `gpu_time` (blocks queued behind a sleep, measure.device_time),
`kernels_per_call` and `host_overhead`. Beside them, the profiler's kernel time per call, summed
over PROFILED_CALLS calls: `gpu_time` should agree with it within a few percent (it also holds
the small gaps between kernels), and vary across repeats by under 2%. Stops starting repeats
after DEADLINE_S, so the script ends within about three minutes; writes JSON to --out.

    python -m benchmarks.gpu_numbers_check --out $OUT/gpu_numbers.json
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import torch

from benchmarks.common import add_out_file, cuda_environment, script_parser, write_json
from benchmarks.cudagraph_bench import hand_written
from example_tests.models import MODELS
from pytest_aotperf.measure.kernels import device_work
from pytest_aotperf.measure.timing import SamplingPlan
from pytest_aotperf.recorder import PerfRecorder

BATCH_SIZES = (1, 4)
REPEATS = 5
PROFILED_CALLS = 20
PLAN = SamplingPlan(warmup_s=0.05, min_samples=20, max_samples=1000, max_time_s=0.2)
TOLERANCE = 0.02
"""The stop rule's tolerance: sampling stops once the median's interval is narrower than 0.5%."""
DEADLINE_S = 170.0


def cases():
    """(model, variant, batch, callable, input) for every case; Inductor compiles here, before any timing."""
    built = []
    for model in ("mlp", "cnn"):
        module, make_inputs = MODELS[model]("cuda")
        compiled = torch.compile(module, dynamic=False)
        for batch in BATCH_SIZES:
            (x,) = make_inputs(batch)
            compiled(x)  # compile now
            for variant, fn in (("eager", module), ("inductor", compiled), ("graph", hand_written(module, x))):
                built.append((model, variant, batch, fn, x))
    torch.cuda.synchronize()
    return built


def profiler_kernel_s(fn, x):
    """Kernel time per call by the profiler, over PROFILED_CALLS calls."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as profiler:
        for _ in range(PROFILED_CALLS):
            fn(x)
        torch.cuda.synchronize()
    work = device_work(profiler.events())
    return work.kernel_s / PROFILED_CALLS, work.kernels / PROFILED_CALLS


def repeat(model, variant, batch, fn, x):
    name = f"{model}-{variant}-{batch}"
    recorder = PerfRecorder.standalone(name, "cuda", plan=PLAN, tolerance=TOLERANCE)
    recorder.measure(fn, x)
    metrics = {m.name: m for m in recorder.metrics}
    gpu = metrics["gpu_time"]
    kernel_s, kernels_averaged = profiler_kernel_s(fn, x)
    return {
        "latency_s": metrics["latency"].value,
        "latency_n": metrics["latency"].summary.n,
        "gpu_time_s": gpu.value,
        "gpu_time_n": gpu.summary.n,
        "gpu_time_iqr_s": gpu.summary.iqr,
        "host_overhead_s": metrics["host_overhead"].value,
        "kernels_per_call": metrics["kernels_per_call"].value,
        "copies_per_call": dict(metrics["kernels_per_call"].context).get("copies"),
        "profiler_kernels_per_call": kernels_averaged,
        "profiler_kernel_s": kernel_s,
        "flags": list(gpu.flags),
        "gpu_time_context": dict(gpu.context),
    }


def spread(values):
    """max/min - 1 over the repeats."""
    return max(values) / min(values) - 1 if values and min(values) > 0 else None


def summary(runs):
    latency = [r["latency_s"] for r in runs]
    gpu = [r["gpu_time_s"] for r in runs]
    kernel = [r["profiler_kernel_s"] for r in runs]
    return {
        "repeats": len(runs),
        "latency_median_s": statistics.median(latency),
        "latency_spread": spread(latency),
        "gpu_time_median_s": statistics.median(gpu),
        "gpu_time_spread": spread(gpu),
        "profiler_kernel_median_s": statistics.median(kernel),
        "gpu_time_over_profiler": statistics.median(gpu) / statistics.median(kernel),
        "kernels_per_call": sorted({r["kernels_per_call"] for r in runs}),
        "host_outran": any(r["flags"] for r in runs),
    }


def main():
    parser = script_parser(__doc__)
    add_out_file(parser)
    args = parser.parse_args()
    start = time.perf_counter()
    torch.manual_seed(0)
    with torch.no_grad():
        built = cases()
        print(f"compiled and captured in {time.perf_counter() - start:.0f} s", flush=True)
        runs = {case[:3]: [] for case in built}
        for index in range(REPEATS):
            if time.perf_counter() - start > DEADLINE_S:
                print(f"deadline: stopped before repeat {index + 1}", flush=True)
                break
            for model, variant, batch, fn, x in built:
                runs[(model, variant, batch)].append(repeat(model, variant, batch, fn, x))
            print(f"repeat {index + 1} done at {time.perf_counter() - start:.0f} s", flush=True)
    results = []
    for (model, variant, batch), case_runs in runs.items():
        if not case_runs:
            continue
        s = summary(case_runs)
        results.append({"model": model, "variant": variant, "batch": batch, "summary": s, "runs": case_runs})
        print(
            f"{model:4} {variant:9} b{batch}: latency {s['latency_median_s'] * 1e6:7.2f} µs "
            f"(spread {s['latency_spread']:6.1%})  gpu_time {s['gpu_time_median_s'] * 1e6:7.2f} µs "
            f"(spread {s['gpu_time_spread']:6.1%})  profiler kernels {s['profiler_kernel_median_s'] * 1e6:7.2f} µs "
            f"gpu/profiler {s['gpu_time_over_profiler']:.3f}  kernels {s['kernels_per_call']}"
            f"{'  HOST OUTRAN' if s['host_outran'] else ''}",
            flush=True,
        )
    worst = max((r["summary"]["gpu_time_spread"] for r in results), default=None)
    print(f"largest gpu_time spread over repeats: {worst:.2%} (target: under 2%)" if worst is not None else "no runs")
    document = {
        **cuda_environment(),
        "seconds": time.perf_counter() - start,
        "plan": dataclasses.asdict(PLAN),
        "tolerance": TOLERANCE,
        "results": results,
    }
    write_json(args.out, document)


if __name__ == "__main__":
    main()
