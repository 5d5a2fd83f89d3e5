"""Median latency of each example model and batch size under seven ways of running it, on the GPU.

eager; inductor (torch.compile, no CUDA graphs); cudagraph (our backend as it ships, the caller
dropping each result: outputs lent as views); cudagraph-kept (the same, the caller keeping every
result: outputs copied from the third call on); cudagraph-views (our backend, `return_views=True`);
reduce-overhead (torch.compile's own CUDA graphs); hand-written (a minimal torch.cuda.CUDAGraph
capture of the same compiled module: copy in, replay).

Timed with the project's own measurement (sample + CudaEventTimer): each variant in ROUNDS
interleaved rounds; the reported median is the median of all its samples, the spread the range
of the round medians over that median.

    python -m benchmarks.cudagraph_bench --out $OUT/cudagraph_bench.json
"""

from __future__ import annotations

import dataclasses
import functools
import json
import statistics
import time

import torch

from benchmarks.common import add_out_file, cuda_environment, script_parser, write_json
from example_tests.models import MODELS
from pytest_aotperf.backends.cudagraph import CudaGraphBackend
from pytest_aotperf.measure.dynamo import compiled_graph_count
from pytest_aotperf.measure.gpu_health import read_clock
from pytest_aotperf.measure.timing import CudaEventTimer, SamplingPlan, sample

BATCH_SIZES = (1, 2, 4, 8)
VARIANTS = ("eager", "inductor", "cudagraph", "cudagraph-kept", "cudagraph-views", "reduce-overhead", "hand-written")
ROUNDS = 3
PLAN = SamplingPlan(warmup_s=0.02, min_warmup=10, min_samples=100, max_samples=2000, max_time_s=0.1)
HOST_CALLS = 100
"""Calls per host-cost reading: few enough that the GPU's launch queue never stalls the loop."""
CORRECTNESS = 1e-3
"""Bound on ||out - eager|| / ||eager|| before timing (cuDNN and cuBLAS may use TF32 by default)."""


def hand_written(compiled, example):
    """The floor: one graph of `compiled` at the example's shape, a static input copied into."""
    static_input = example.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            compiled(static_input)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    # Capture on the warm-up stream: a library workspace first made during capture (cuBLAS keeps
    # one per stream) would live in this graph's pool and dangle once the graph is gone.
    with torch.cuda.graph(graph, stream=stream):
        static_output = compiled(static_input)

    def run(x):
        static_input.copy_(x)
        graph.replay()
        return static_output

    return run


def keeping(model, inputs, kept):
    """Call `model` and keep the result, as a caller collecting outputs does."""
    out = model(*inputs)
    kept.append(out)
    return out


def host_cost_s(call):
    """Host time per call, launching only (the GPU catches up after): a row is host-bound where it nears the median."""
    readings = []
    for _ in range(5):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(HOST_CALLS):
            call()
        readings.append((time.perf_counter() - start) / HOST_CALLS)
        torch.cuda.synchronize()
    return min(readings)


def relative_error(out, ref):
    return ((out.float() - ref.float()).norm() / ref.float().norm()).item()


def bench_model(name, backend):
    module, make = MODELS[name]("cuda")
    example = make(BATCH_SIZES[-1])
    ours = backend.compile(module, example, BATCH_SIZES)
    ours_views = backend.capture(ours.compiled, module, example, BATCH_SIZES, return_views=True)
    start = time.perf_counter()
    reduce_overhead = torch.compile(module, mode="reduce-overhead", dynamic=False)
    for batch in BATCH_SIZES:
        for _ in range(3):
            reduce_overhead(*make(batch))
    torch.cuda.synchronize()
    reduce_overhead_compile_s = time.perf_counter() - start
    rows = []
    for batch in BATCH_SIZES:
        inputs = make(batch)
        runners = {
            "eager": module,
            "inductor": ours.compiled,
            "cudagraph": ours,
            "cudagraph-views": ours_views,
            "reduce-overhead": reduce_overhead,
            "hand-written": hand_written(ours.compiled, inputs[0]),
        }
        calls = {variant: functools.partial(runners[variant], *inputs) for variant in runners}
        kept = []
        calls["cudagraph-kept"] = functools.partial(keeping, ours, inputs, kept)
        reference = module(*inputs)
        errors = {}
        for variant, call in calls.items():
            print(f"checking {name} bs={batch} {variant}", flush=True)
            errors[variant] = relative_error(call().clone(), reference)
        assert all(e <= CORRECTNESS for e in errors.values()), (name, batch, errors)
        samples = {v: [] for v in VARIANTS}
        round_medians = {v: [] for v in VARIANTS}
        recompiled = {v: 0 for v in VARIANTS}
        clock_before = read_clock()
        for _ in range(ROUNDS):
            for variant in VARIANTS:
                timed = sample(calls[variant], CudaEventTimer(), PLAN, graph_count=compiled_graph_count)
                samples[variant].extend(timed.samples)
                kept.clear()
                round_medians[variant].append(statistics.median(timed.samples))
                recompiled[variant] += timed.graphs_compiled
        clock_after = read_clock()
        host = {v: host_cost_s(calls[v]) for v in VARIANTS}
        kept.clear()
        medians = {v: statistics.median(samples[v]) for v in VARIANTS}
        rows.append(
            {
                "model": name,
                "batch": batch,
                "median_s": medians,
                "host_s": host,
                "spread": {v: (max(round_medians[v]) - min(round_medians[v])) / medians[v] for v in VARIANTS},
                "samples": {v: len(samples[v]) for v in VARIANTS},
                "graphs_compiled_while_timed": recompiled,
                "relative_error_vs_eager": errors,
                "sm_clock_mhz": [r.sm_clock_mhz if r else None for r in (clock_before, clock_after)],
                "throttle_reasons": sorted(
                    set((clock_before.reasons if clock_before else ()) + (clock_after.reasons if clock_after else ()))
                ),
            }
        )
    stats = ours.stats
    compile_info = {
        "cudagraph_compile_s": stats.value("compile_s"),
        "cudagraph_capture_s": stats.value("capture_s"),
        "cudagraph_graph_pool_bytes": stats.value("graph_pool_bytes"),
        "cudagraph_replays": stats.value("replays"),
        "cudagraph_padded_calls": stats.value("padded_calls"),
        "cudagraph_copied_outputs": stats.value("copied_outputs"),
        "cudagraph_ungraphed_calls": stats.value("ungraphed_calls"),
        "reduce_overhead_compile_and_record_s": reduce_overhead_compile_s,
    }
    return rows, compile_info


def ratio_table(rows):
    ratios = (
        ("ours/hand", "cudagraph", "hand-written"),
        ("kept/hand", "cudagraph-kept", "hand-written"),
        ("views/hand", "cudagraph-views", "hand-written"),
        ("ours/RO", "cudagraph", "reduce-overhead"),
        ("kept/RO", "cudagraph-kept", "reduce-overhead"),
        ("eager/ours", "eager", "cudagraph"),
    )
    head = f"{'model':8} {'bs':>2} " + " ".join(f"{v:>15}" for v in VARIANTS) + "".join(f" {r[0]:>10}" for r in ratios)
    lines = ["median latency, microseconds (host time per call in brackets)", head]
    for row in rows:
        m, host = row["median_s"], row["host_s"]
        lines.append(
            f"{row['model']:8} {row['batch']:>2} "
            + " ".join(f"{m[v] * 1e6:7.1f} ({host[v] * 1e6:5.1f})" for v in VARIANTS)
            + "".join(f" {m[top] / m[bottom]:10.3f}" for _, top, bottom in ratios)
        )
    return "\n".join(lines)


def main():
    parser = script_parser(__doc__)
    add_out_file(parser)
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        metavar="NAMES",
        help=f"comma-separated example models (default: {','.join(MODELS)})",
    )
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    torch._dynamo.config.recompile_limit = 64  # every model x variant x batch size gets its own graph
    backend = CudaGraphBackend()
    rows, compile_info = [], {}
    for name in args.models.split(","):
        model_rows, compile_info[name] = bench_model(name, backend)
        rows.extend(model_rows)
        print(ratio_table(model_rows), flush=True)
    result = {
        **cuda_environment(),
        "rounds": ROUNDS,
        "plan": dataclasses.asdict(PLAN),
        "tf32": {"cudnn": torch.backends.cudnn.allow_tf32, "matmul": torch.backends.cuda.matmul.allow_tf32},
        "rows": rows,
        "compile": compile_info,
    }
    write_json(args.out, result)
    print(ratio_table(rows))
    print(json.dumps(compile_info, indent=1))


if __name__ == "__main__":
    main()
