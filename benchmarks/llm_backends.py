"""One LLM, four backends: eager, inductor, cudagraph (transformers with a static KV cache) and vLLM, like for like.

All backends build the same seeded random weights (vLLM loads them, `weights="seeded"`), in the same
dtype, and generate greedily from the same token-id prompts. Per backend, in processes of their own:
a cold build (fresh Inductor and vLLM caches) and a warm one (a new process, same caches), which then
measures output tokens/s, TTFT, TPOT and latency per batch size through the `aot_llm` runners. Tokens/s
is also given as a fraction of the memory-bandwidth floor: every weight (and the KV cache read so far)
read once per decode step at the GPU's peak bandwidth (known for H100 SXM and H200; else --bandwidth-gbs).
Greedy tokens are compared for every pair of backends: at the first step where they differ, the eager
model's logits of the two tokens, and whether the gap is within the dtype's rounding (a tie).
Prints a table and writes llm_backends.json to --out (default $OUT, else the current folder).

GPU: python -m benchmarks.llm_backends
8B:  python -m benchmarks.llm_backends --model llama-3-8b --backends cudagraph,vllm --batch-sizes 1,16
In parts (a device call's time limit): --backends eager,inductor,cudagraph, then
            --backends vllm --runs-from llm_backends.json (keeps the first part's runs).
Tables again from a saved run: --backends "" --runs-from FILE, with that run's arguments (--tie-check: its
            token check again, on the kind of device that recorded it).
A change to try, beside the backend it changes and with its tokens tie-checked against every other run:
     --backends cudagraph,vllm --variants '{"merged": {"merge_projections": true}}' adds cudagraph[merged];
     the claims stay with the plain backends (the users' compiler). Each run records its options.
The claims over several machines' runs, each ratio as a range: python -m benchmarks.llm_claims_across FILE FILE...
CPU smoke:  python -m benchmarks.llm_backends --model tiny-llama --batch-sizes 1,4 --output-len 16 \\
            --warmup 1 --iterations 3 --backends eager,inductor,vllm
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from benchmarks.common import (
    LLM_BACKENDS,
    add_generation_options,
    add_llm_options,
    add_out_folder,
    backend_of,
    is_run_name,
    parse_llm_args,
    run_in_child,
    script_parser,
    variant_runs,
    write_json,
)
from pytest_aotperf.llm.agreement import first_difference
from pytest_aotperf.llm.hf_model import resolve_dtype
from pytest_aotperf.llm.metrics import without_cache_state
from pytest_aotperf.llm.specs import resolve_model

COMPILING = ("inductor", "cudagraph", "vllm")
PEAK_BANDWIDTH_GBS = {"NVIDIA H100 80GB HBM3": 3350.0, "NVIDIA H200": 4800.0}
"""Memory bandwidth by the GPU's name as CUDA gives it (the SXM parts; the data sheets' figures). Other parts
of a family differ (H100 PCIe 2.0, H100 NVL 3.9 TB/s), so a name not listed has no default."""
BUILD_METRICS = ("engine_build_s", "model_build_s", "compile_s", "cudagraph_capture_s", "cudagraph_memory")
MEMORY_METRICS = ("gpu_peak_allocated", "gpu_peak_reserved", "gpu_device_used", "host_peak_rss")
BUILD_MEMORY_METRICS = tuple("build_" + name for name in MEMORY_METRICS)
"""The engine's build (weights, vLLM's KV cache and graphs), apart from the generation's own peaks."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = script_parser(__doc__)
    add_generation_options(parser, warmup=5, iterations=15)
    add_llm_options(parser, ",".join(LLM_BACKENDS), children=("cold", "warm", "ties"))
    add_out_folder(parser)
    parser.add_argument(
        "--runs-from", type=Path, help="an earlier llm_backends.json whose runs of other backends are kept"
    )
    parser.add_argument(
        "--tie-check",
        action="store_true",
        help="check the kept runs' tokens again (where they were recorded: the weights are seeded on the device)",
    )
    return parse_llm_args(parser, argv)


def llm_options(args: argparse.Namespace, backend: str, device: str, variant: Optional[str] = None) -> Dict[str, Any]:
    """The same model for every backend: dtype, seeded weights; graphs captured at the measured batch sizes;
    --compile-options on the backends that compile with torch.compile, and then the variant's, if any."""
    options: Dict[str, Any] = {"dtype": args.dtype} if args.dtype else {}
    if backend in ("inductor", "cudagraph"):
        options.update(args.compile_options or {})
        options.update(args.variants.get(variant, {}))
    if backend == "vllm":
        options["weights"] = "seeded"
        if device.startswith("cuda") and args.vllm_kv_cache == "matched":
            dtype = resolve_dtype(resolve_model(args.model), device, args.dtype)
            options["kv_cache_memory_bytes"] = matched_kv_cache_bytes(args, dtype)
            options["max_model_len"] = args.prompt_len + args.output_len
        elif device.startswith("cuda"):
            options["gpu_memory_utilization"] = args.gpu_memory_utilization
    if backend == "cudagraph":
        options["batch_sizes"] = args.batch_sizes
    return options


VLLM_BLOCK_TOKENS = 16
"""vLLM's KV-cache block on these GPUs (its default block_size); one more block is its null block."""


def matched_kv_cache_bytes(args: argparse.Namespace, dtype: str) -> int:
    """vLLM's KV cache the size of our static cache at the largest batch (every request's cache length in
    whole blocks), plus vLLM's null block: like for like for the total-memory claim."""
    from pytest_aotperf.llm.hf.programs import cache_length

    per_request = -(-cache_length(args.prompt_len, args.output_len) // VLLM_BLOCK_TOKENS) * VLLM_BLOCK_TOKENS
    tokens = max(args.batch_sizes) * per_request + VLLM_BLOCK_TOKENS
    return tokens * kv_bytes_per_token(model_config(args), dtype)


def model_config(args: argparse.Namespace) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(resolve_model(args.model).path)


def kv_bytes_per_token(config: Any, dtype: str) -> int:
    """Keys and values of every layer for one token."""
    import torch

    itemsize = torch.empty(0, dtype=getattr(torch, dtype)).element_size()
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return int(2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * itemsize)


def serving_gpu_memory() -> Any:
    """GPU memory the process tree (vLLM's engine process included) holds after serving, by NVML; or why not."""
    from pytest_aotperf.measure.memory import SystemReadings

    used, _, reason = SystemReadings().nvml_used()
    return used if used is not None else f"unavailable: {reason}"


def serving_gpu_memory_by_process() -> Dict[str, int]:
    """That memory by process, named "this" (the measuring process) or by its command name and pid: whether
    the process that drives an engine holds a CUDA context of its own. Empty where NVML lists none of them."""
    import os

    from pytest_aotperf.measure.memory import nvml_tree_processes

    by_process, _ = nvml_tree_processes()

    def name(pid: int) -> str:
        if pid == os.getpid():
            return "this"
        comm = Path(f"/proc/{pid}/comm")
        return f"{comm.read_text().strip() if comm.exists() else 'pid'} {pid}"

    return {name(pid): used for pid, used in (by_process or {}).items()}


def metric_value(metrics: Dict[str, Any], name: str) -> Any:
    metric = metrics.get(name)
    if metric is None:
        return None
    return metric.value if metric.available else f"unavailable: {metric.unavailable}"


def run_child(args: argparse.Namespace) -> None:
    """One build of one backend (cold or warm); the warm one also generates at every batch size."""
    import torch

    from pytest_aotperf.backends import create_backend
    from pytest_aotperf.environment import boot_id
    from pytest_aotperf.recorder import PerfRecorder

    backend = create_backend(args.child_backend)
    device = backend.device
    options = llm_options(args, backend.name, device, args.child_variant)
    result: Dict[str, Any] = {"backend": backend.name, "build": args.child, "device": device, "batches": {}}
    result.update(variant=args.child_variant, options=options)
    result["device_name"] = device_here()
    result["boot_id"] = boot_id()
    try:
        for batch_size in args.batch_sizes:
            recorder = PerfRecorder.standalone(f"{backend.name}-{batch_size}", device, memory=True)
            runner = backend.llm(args.model, recorder, **options)
            measuring = args.child == "warm"
            generation = runner.generate(
                batch_size,
                args.prompt_len,
                args.output_len,
                warmup=args.warmup if measuring else 0,
                iterations=args.iterations if measuring else 1,
                greedy=True,
            )
            metrics = {without_cache_state(m.name): m for m in recorder.finish().metrics}
            entry: Dict[str, Any] = {
                name: metric_value(metrics, name) for name in BUILD_METRICS + MEMORY_METRICS + BUILD_MEMORY_METRICS
            }
            build_context = dict(metrics["engine_build_s"].context)
            entry["compile_cache"] = build_context.get("compile_cache")
            entry["compile_cache_log"] = build_context.get("compile_cache_log")
            if measuring:
                entry.update(
                    latency_s=statistics.median(generation.latency_s),
                    ttft_s=statistics.median(generation.ttft_s) if generation.ttft_s else None,
                    tpot_s=statistics.median(generation.tpot_s) if generation.tpot_s else None,
                    output_tokens_per_s=statistics.median(generation.output_tokens_per_s),
                    token_ids=[list(tokens) for tokens in generation.token_ids],
                    decode_graphs=recorder.config.get("llm", {}).get("decode_graphs"),
                )
            result["batches"][batch_size] = entry
        result["config"] = json.loads(json.dumps(recorder.config.get("llm", {}), default=repr))
        result["serving_gpu_memory"] = serving_gpu_memory()
        result["serving_gpu_memory_by_process"] = serving_gpu_memory_by_process()
    finally:
        backend.close()
    result["torch"] = torch.__version__
    Path(args.child_out).write_text(json.dumps(result, allow_nan=False))


def device_here() -> str:
    """This machine's GPU, else its CPU, by name: where the seeded weights are made."""
    from pytest_aotperf.environment import cpu_name, gpu_name

    return gpu_name() or cpu_name()


def checks_ties(args: argparse.Namespace, runs: Dict[str, Any]) -> bool:
    """Whether this invocation runs the tie check: after measuring, or asked to (--tie-check), with two runs or
    more, all from this kind of device (elsewhere the eager model's seeded weights differ). Asked to, runs
    from elsewhere are an error naming the file; after measuring, the check is left out, saying why."""
    if len(runs) < 2 or not (args.backends or args.tie_check):
        return False
    here = device_here()
    elsewhere = [f"{name} on {run['warm'].get('device_name')!r}" for name, run in runs.items()
                 if run["warm"].get("device_name") != here]  # fmt: skip
    if not elsewhere:
        return True
    why = f"it rebuilds the seeded weights on this device ({here!r}), but the runs include {', '.join(elsewhere)}"
    if args.tie_check:
        sys.exit(f"{args.runs_from}: --tie-check: {why}; check them where they were recorded")
    print(f"no tie check: {why}")
    return False


def pair_name(first: str, second: str) -> str:
    return f"{first} vs {second}"


def backend_pairs(runs: Dict[str, Any]) -> List[Tuple[str, str]]:
    """Every pair of the runs (backends and their variants), in LLM_BACKENDS order, a variant after its backend."""
    names = sorted(runs, key=lambda name: (LLM_BACKENDS.index(backend_of(name)), name != backend_of(name), name))
    return list(itertools.combinations(names, 2))


def run_tie_check(args: argparse.Namespace) -> None:
    """For every pair of backends, where their greedy tokens first differ: the gap between the two tokens'
    logits on the eager model (the same seeded weights, rebuilt on this device), a tie within the rounding
    measured there or not (`agreement`)."""
    import torch

    from pytest_aotperf.llm.agreement import agreement, widened
    from pytest_aotperf.llm.hf_model import build_model
    from pytest_aotperf.llm.metrics import prompt_token_ids

    runs = json.loads(Path(args.child_out).read_text())
    spec = resolve_model(args.model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = resolve_dtype(spec, device, args.dtype)
    model = build_model(spec, dtype, device)
    wide_model = widened(model)
    ties: Dict[str, Dict[str, str]] = {}
    for first, second in backend_pairs(runs):
        for size in map(str, args.batch_sizes):
            tokens = [runs[name]["warm"]["batches"].get(size, {}).get("token_ids") for name in (first, second)]
            if None in tokens:
                continue
            prompt = prompt_token_ids(spec.vocab_size, int(size), args.prompt_len, seed=0)
            found = agreement(model, prompt, *tokens, wide_model=wide_model)
            ties.setdefault(pair_name(first, second), {})[size] = found.describe()
    Path(args.child_out).write_text(json.dumps(ties, allow_nan=False))


def tie_check(runs: Dict[str, Any], folder: Path) -> Dict[str, Dict[str, str]]:
    """run_tie_check in a process of its own (the runs' token ids in, the verdicts out)."""
    exchange = folder / "ties.json"
    exchange.write_text(json.dumps(runs, allow_nan=False))
    result: Dict[str, Dict[str, str]] = run_in_child(__spec__.name, exchange, ["--child", "ties"])
    return result


def child(backend: str, variant: Optional[str], build: str, caches: Path) -> Dict[str, Any]:
    """Run one build of `backend` (with `variant`'s options) in a process of its own, with the compile caches
    under `caches`."""
    out = caches / f"{build}.json"
    arguments = ["--child", build, "--child-backend", backend] + (["--child-variant", variant] if variant else [])
    result: Dict[str, Any] = run_in_child(__spec__.name, out, arguments, caches)
    return result


def peak_bandwidth_gbs(device_name: Optional[str]) -> Optional[float]:
    """The bandwidth of the GPU named `device_name` in PEAK_BANDWIDTH_GBS, or None."""
    return PEAK_BANDWIDTH_GBS.get(device_name or "")


def bandwidth_floor(args: argparse.Namespace, dtype: str, batch_size: int, bandwidth_gbs: float) -> Dict[str, float]:
    """Tokens/s if every decode step only read each weight once and the KV cache written so far (mean context)."""
    import torch
    from transformers import AutoModelForCausalLM

    config = model_config(args)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    itemsize = torch.empty(0, dtype=getattr(torch, dtype)).element_size()
    weights = sum(p.numel() for p in model.parameters()) * itemsize  # tied embeddings counted once
    per_token = kv_bytes_per_token(config, dtype)
    context = args.prompt_len + args.output_len / 2
    step_bytes = weights + batch_size * context * per_token
    step_s = step_bytes / (bandwidth_gbs * 1e9)
    return {
        "weight_bytes": float(weights),
        "step_bytes": step_bytes,
        "step_s": step_s,
        "tokens_per_s": batch_size / step_s,
    }


def agreement_with(reference: Optional[Dict[str, Any]], entry: Dict[str, Any]) -> Optional[str]:
    if reference is None or "token_ids" not in reference or "token_ids" not in entry:
        return None
    where = first_difference(reference["token_ids"], entry["token_ids"])
    return "identical" if where is None else f"differs first at step {where[1]} (request {where[0]})"


def number(value: Any) -> Optional[float]:
    """A measured number, or None where the run had none (missing, unavailable)."""
    return float(value) if isinstance(value, (int, float)) else None


def ratio(numerator: Any, denominator: Any) -> Optional[float]:
    top, bottom = number(numerator), number(denominator)
    return top / bottom if top is not None and bottom else None


def claim_row(
    claim: str, measured: str, value: Optional[float], confirmed: Callable[[float], bool], why_not: str = ""
) -> Dict[str, Any]:
    """One claim: what was compared, the ratio, and confirmed or refuted (not comparable without a ratio,
    or where `why_not` says the runs did not measure what the claim is about)."""
    if value is None or why_not:
        verdict = "not comparable" + (f": {why_not}" if why_not else "")
    else:
        verdict = "confirmed" if confirmed(value) else "refuted"
    return {"claim": claim, "measured": measured, "ratio": value, "verdict": verdict}


ONCE, PER_BATCH = "once", "per batch size"
CACHE_TIMED = {"engine_build_s", "compile_s", "cudagraph_capture_s"}
"""Times a warm-start claim is about: only comparable where each backend's compile cache served its build."""
CLAIMS = (
    # claim, what is compared, numerator and denominator backends, build, summed keys, confirmed when, rows
    ("17% less memory (CUDA graphs)", "CUDA-graph memory (vLLM's log; our graph pool's growth): vllm / cudagraph",
     ("vllm", "cudagraph"), "warm", ("cudagraph_memory",), lambda r: r <= 0.83, ONCE),
    ("38% faster first compile", "compile_s, cold caches: vllm / cudagraph",
     ("vllm", "cudagraph"), "cold", ("compile_s",), lambda r: r <= 0.62, ONCE),
    ("62% faster start from a compile cache", "engine build, warm caches: vllm / cudagraph",
     ("vllm", "cudagraph"), "warm", ("engine_build_s",), lambda r: r <= 0.38, ONCE),
    ("58% shorter warm-up", "compile and capture from warm caches (before the first token): vllm / cudagraph",
     ("vllm", "cudagraph"), "warm", ("compile_s", "cudagraph_capture_s"), lambda r: r <= 0.42, ONCE),
    ("21-28% more tokens/s", "output tokens/s: vllm / cudagraph",
     ("vllm", "cudagraph"), "warm", ("output_tokens_per_s",), lambda r: r >= 1.21, PER_BATCH),
    ("15-25% lower latency from CUDA graphs", "latency: cudagraph / inductor (the same compiled model without "
     "graphs; at least 15% lower confirms)", ("cudagraph", "inductor"), "warm", ("latency_s",), lambda r: r <= 0.85,
     PER_BATCH),
)  # fmt: skip
"""The users' claims for vLLM's native compilation over their own compiler (`cudagraph` here), and for CUDA
graphs over the same compiled model (`cudagraph` against `inductor`)."""
TOTAL_MEMORY = (
    "17% less memory",
    "GPU memory held after serving every batch size (NVML, the process tree; vLLM's KV cache matched to "
    "ours): vllm / cudagraph",
)


def on_two_machines(runs: Dict[str, Any], backends: Tuple[str, ...], build: str) -> str:
    """Why a ratio of two backends' runs says nothing of the claim: they ran on two machines (--runs-from
    across device calls), whose hosts differ. Runs recorded before boot ids were kept are not told apart."""
    ids = {runs.get(backend, {}).get(build, {}).get("boot_id") for backend in backends}
    return "" if None in ids or len(ids) == 1 else f"{' and '.join(backends)} ran on two machines"


def total_memory_row(runs: Dict[str, Any]) -> Dict[str, Any]:
    """The total-memory claim: comparable only where vLLM's KV cache was sized as ours (--vllm-kv-cache matched),
    otherwise its total is its gpu_memory_utilization share of the card, and where both ran on one machine."""
    vllm, ours = (runs.get(name, {}).get("warm", {}) for name in ("vllm", "cudagraph"))
    matched = "kv_cache_memory_bytes" in vllm.get("options", {})
    by_share = "" if matched or not vllm else "vLLM's KV cache took its gpu_memory_utilization share of the card"
    found = ratio(vllm.get("serving_gpu_memory"), ours.get("serving_gpu_memory"))
    why_not = by_share or on_two_machines(runs, ("vllm", "cudagraph"), "warm")
    return claim_row(*TOTAL_MEMORY, found, lambda r: r <= 0.83, why_not)


def claims(runs: Dict[str, Any], batch_sizes: List[int]) -> List[Dict[str, Any]]:
    """Each claim of CLAIMS answered from one run (at the first batch size, or at each), total memory first."""

    def value(backend: str, build: str, size: int, keys: Tuple[str, ...]) -> Optional[float]:
        """The sum of `keys` measured in `backend`'s `build` at `size`; None if any is missing."""
        entry = runs.get(backend, {}).get(build, {}).get("batches", {}).get(str(size), {})
        parts = [number(entry.get(key)) for key in keys]
        return None if None in parts else sum(p for p in parts if p is not None)

    def missed_cache(backends: Tuple[str, ...], build: str, size: int, keys: Tuple[str, ...]) -> str:
        """Why a warm build's times say nothing about a warm start: a backend whose cache did not serve it."""
        if build != "warm" or not set(keys) & CACHE_TIMED:
            return ""
        states = {
            b: runs.get(b, {}).get(build, {}).get("batches", {}).get(str(size), {}).get("compile_cache")
            for b in backends
        }
        missed = [
            f"{b}'s warm build missed its compile cache ({state})"
            for b, state in states.items()
            if state not in (None, "warm")
        ]
        return "; ".join(missed)

    rows = [total_memory_row(runs)]
    for claim, measured, backends, build, keys, confirmed, scope in CLAIMS:
        for size in batch_sizes if scope == PER_BATCH else batch_sizes[:1]:
            name = f"{claim} (batch {size})" if scope == PER_BATCH else claim
            found = ratio(value(backends[0], build, size, keys), value(backends[1], build, size, keys))
            why_not = missed_cache(backends, build, size, keys) or on_two_machines(runs, backends, build)
            rows.append(claim_row(name, measured, found, confirmed, why_not))
    return rows


def fmt(value: Any, scale: float = 1.0, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return "n/a"
    return f"{value * scale:.{digits}g}{unit}"


COMPARED_ARGS = ("model", "batch_sizes", "prompt_len", "output_len", "dtype", "warmup", "iterations", "compile_options")
"""Arguments that earlier runs (--runs-from) must share with this one to be compared with it."""


def read_results(path: Path) -> Dict[str, Any]:
    """A saved llm_backends.json; an error names the file and what is wrong with it: unreadable, not a result,
    a run of no backend."""
    try:
        results = json.loads(path.read_text())
        if not isinstance(results["args"], dict) or not isinstance(results["runs"], dict):
            raise TypeError("its args and runs must be objects")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"{path}: not a result of benchmarks.llm_backends ({error!r})") from error
    unknown = [name for name in results["runs"] if not is_run_name(name)]
    if unknown:
        raise SystemExit(f"{path}: run {unknown[0]!r} is no backend of {', '.join(LLM_BACKENDS)} nor a variant of one")
    return results


def earlier_results(args: argparse.Namespace) -> Dict[str, Any]:
    """The results kept from --runs-from, less the backends this run measures again; an error names the
    file and what is wrong with it (read_results), or the argument that differs."""
    if args.runs_from is None:
        return {"runs": {}}
    earlier = read_results(args.runs_from)
    arguments, runs = earlier["args"], earlier["runs"]
    for name in COMPARED_ARGS:
        if arguments.get(name) != getattr(args, name):
            sys.exit(
                f"{args.runs_from}: --{name.replace('_', '-')} was {arguments.get(name)!r}, "
                f"this run has {getattr(args, name)!r}; runs are compared like for like only"
            )
    measured = {name for name, _, _ in variant_runs(args.backends, args.variants)}
    kept = {name: run for name, run in runs.items() if name not in measured}
    return {"runs": kept, "ties": earlier.get("ties", {})} if not args.backends else {"runs": kept}


def main() -> None:
    args = parse_args()
    if args.child == "ties":
        run_tie_check(args)
        return
    if args.child:
        run_child(args)
        return
    arguments = {k: v for k, v in vars(args).items() if not k.startswith("child") and k != "runs_from"}
    results: Dict[str, Any] = {"args": arguments, **earlier_results(args)}
    out = Path(args.out) / "llm_backends.json"
    with tempfile.TemporaryDirectory(prefix="aotperf-llm-bench-") as tmp:
        for name, backend, variant in variant_runs(args.backends, args.variants):
            caches = Path(tmp) / name
            caches.mkdir()
            builds = ("cold", "warm") if backend in COMPILING else ("warm",)
            results["runs"][name] = {build: child(backend, variant, build, caches) for build in builds}
            write_json(out, results, indent=2)  # a later backend's failure keeps it
        if checks_ties(args, results["runs"]):
            results["ties"] = tie_check(results["runs"], Path(tmp))
    warm_runs = [builds["warm"] for builds in results["runs"].values()]
    measured = next((run for run in warm_runs if "device_name" in run), warm_runs[0])
    dtype = resolve_dtype(resolve_model(args.model), measured["device"], args.dtype)
    results["dtype"] = dtype
    bandwidth = args.bandwidth_gbs or peak_bandwidth_gbs(measured.get("device_name", ""))
    results["bandwidth_gbs"] = bandwidth
    results["floor"] = {size: bandwidth_floor(args, dtype, size, bandwidth) for size in args.batch_sizes if bandwidth}
    eager = results["runs"].get("eager", {}).get("warm")
    width = max([10, *map(len, results["runs"])])
    header = (
        f"{'backend':<{width}} batch  tokens/s  of floor  ttft      tpot      latency   build cold  build warm  "
        "compile cold  compile warm  capture  graph mem  gpu peak  tokens vs eager"
    )
    print(header)
    print("-" * len(header))
    for backend, builds in results["runs"].items():
        for size in args.batch_sizes:
            key = str(size)
            warm = builds["warm"]["batches"][key]
            cold = builds.get("cold", {}).get("batches", {}).get(key, {})
            floor = results["floor"].get(size)
            warm["fraction_of_floor"] = warm["output_tokens_per_s"] / floor["tokens_per_s"] if floor else None
            tie = results.get("ties", {}).get(pair_name("eager", backend), {}).get(key)
            warm["agreement_with_eager"] = tie or agreement_with(eager["batches"][key] if eager else None, warm)
            print(
                f"{backend:<{width}} {size:>5}  {fmt(warm['output_tokens_per_s'], digits=4):>8}  "
                f"{fmt(warm['fraction_of_floor'], 100, '%'):>8}  {fmt(warm['ttft_s'], 1e3, ' ms'):>8}  "
                f"{fmt(warm['tpot_s'], 1e3, ' ms'):>8}  {fmt(warm['latency_s'], 1e3, ' ms'):>8}  "
                f"{fmt(cold.get('engine_build_s'), unit=' s'):>10}  {fmt(warm['engine_build_s'], unit=' s'):>10}  "
                f"{fmt(cold.get('compile_s'), unit=' s'):>12}  {fmt(warm['compile_s'], unit=' s'):>12}  "
                f"{fmt(warm['cudagraph_capture_s'], unit=' s'):>7}  "
                f"{fmt(warm['cudagraph_memory'], 2**-20, ' MiB'):>9}  "
                f"{fmt(warm['gpu_peak_allocated'], 2**-30, ' GiB'):>8}  {warm['agreement_with_eager'] or '-'}"
            )
    for size, floor in results["floor"].items():
        print(
            f"floor at batch {size}: {floor['tokens_per_s']:.0f} tokens/s ({floor['step_s'] * 1e3:.3f} ms per step, "
            f"{floor['step_bytes'] / 2**30:.2f} GiB read at {bandwidth:.0f} GB/s)"
        )
    if not bandwidth:
        print(f"no floor: the bandwidth of {measured.get('device_name')!r} is unknown (give --bandwidth-gbs)")
    print(
        "\n| backends | batch | greedy tokens (at the first difference, the eager model's logit gap) |\n|---|---|---|"
    )
    for pair, sizes in results.get("ties", {}).items():
        for size, found in sizes.items():
            print(f"| {pair} | {size} | {found} |")
    for backend, builds in results["runs"].items():
        for build, run in builds.items():
            log = next(iter(run["batches"].values()), {}).get("compile_cache_log")
            if log:
                print(f"{backend} {build} build, vLLM's compile cache: " + "; ".join(log))
    for backend, builds in results["runs"].items():
        by_process = builds["warm"].get("serving_gpu_memory_by_process")
        if by_process:
            parts = ", ".join(f"{name} {used / 2**20:.0f} MiB" for name, used in by_process.items())
            print(f"{backend}: GPU memory held after serving, by process: {parts}")
    results["claims"] = claims(results["runs"], args.batch_sizes)
    print("\n| claim | measured | ratio | verdict |\n|---|---|---|---|")
    for row in results["claims"]:
        print(f"| {row['claim']} | {row['measured']} | {fmt(row['ratio'])} | {row['verdict']} |")
    write_json(out, results, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
