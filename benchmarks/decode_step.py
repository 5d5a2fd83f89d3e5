"""Where one decode step's time goes, on our CUDA-graph path and on vLLM's, kernel by kernel.

Per backend, in a process of its own: the same batch is generated (greedy, seeded weights as in
llm_backends) with a long and a short output, each under the CUDA profiler, --iterations times. What the
long generation adds over the short one, over the steps it adds, is one decode step: prefill and start-up
cancel. Per step: device time (first kernel's start to last kernel's end), the kernels' summed time, the
gaps between them, kernels per step, every kernel (the top five printed, all in the JSON) and their kinds
with their share, against the bandwidth floor (weights and KV cache read once per step, as llm_backends
computes it). Both outputs use the same static KV cache on our path (the short one is the shortest whose
cache length is the long one's). vLLM runs its engine core in this process (VLLM_ENABLE_V1_MULTIPROCESSING=0),
so the profiler sees its kernels. Without CUDA there are no kernels to read: the host's wall time per step is
given alone.

A change to try runs beside the backend it changes, in the same run: --variants names sets of
--compile-options, and each becomes one more run of every backend that compiles with torch.compile
(`cudagraph[merged]` beside `cudagraph`).

GPU: python -m benchmarks.decode_step --backends cudagraph,vllm --batch-sizes 1
     ... --variants '{"merged": {"merge_projections": true}}'
CPU smoke: python -m benchmarks.decode_step --model tiny-llama --backends inductor --output-len 64 --iterations 2
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from benchmarks.common import (
    add_generation_options,
    add_llm_options,
    add_out_folder,
    parse_llm_args,
    run_in_child,
    script_parser,
    variant_runs,
    write_json,
)
from benchmarks.llm_backends import bandwidth_floor, llm_options, peak_bandwidth_gbs
from pytest_aotperf.llm.hf.programs import cache_length
from pytest_aotperf.llm.hf_model import resolve_dtype
from pytest_aotperf.llm.specs import resolve_model

TOP_KERNELS = 5
IN_PROCESS_ENGINE = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
"""vLLM's engine core in the profiled process: the profiler sees only this process's kernels."""
NO_KERNELS = "the CUDA profiler saw no more kernels in the long generation (did the engine run in another process?)"
Ranked = Tuple[Tuple[str, float, float], ...]
"""(name, seconds per step, share of the step's kernel time), the largest first."""
KINDS = (
    ("attention", re.compile(r"flash|fmha|attn|attention|sdpa|paged|reshape_and_cache", re.I)),
    ("matmul", re.compile(r"gemm|gemv|cutlass|xmma|nvjet|matmul|splitk|^triton_tem_", re.I)),
    ("norm", re.compile(r"norm|rsqrt", re.I)),
    ("copy, fill", re.compile(r"^Memcpy|^Memset")),
    ("fused elementwise (Triton)", re.compile(r"^triton_")),
)
"""A kernel's kind, by the first pattern its name matches (else "other"): the two backends' kernels have
different names, their kinds compare."""


@dataclass(frozen=True)
class Span:
    """One kernel, copy or fill on the device, in µs on the profiler's clock."""

    name: str
    start_us: float
    end_us: float


@dataclass(frozen=True)
class Timeline:
    """A generation's device work, summed."""

    window_us: float
    """From the first kernel's start to the last one's end."""
    busy_us: float
    """The time at least one kernel ran (overlapping kernels counted once)."""
    by_name: Mapping[str, float]
    """Each kernel name's summed time."""
    counts: Mapping[str, int]
    """Each kernel name's launches."""

    @property
    def kernel_us(self) -> float:
        """The spans' durations summed (copies and fills with the kernels)."""
        return sum(self.by_name.values())

    @property
    def kernels(self) -> int:
        """Kernels, copies and fills."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class StepBreakdown:
    """One decode step: what a longer generation adds per step it adds."""

    device_s: float
    kernel_s: float
    """Kernels, copies and fills: their durations summed."""
    gaps_s: float
    """Device time in which no kernel ran: the host's launches and scheduling between them."""
    kernels: float
    by_kernel: Ranked
    """Every kernel the step adds, the largest first (the report prints the top TOP_KERNELS; the JSON has all)."""
    kinds: Ranked


def timeline(spans: Iterable[Span]) -> Timeline:
    ordered = sorted(spans, key=lambda span: span.start_us)
    if not ordered:
        return Timeline(0.0, 0.0, {}, {})
    by_name: Dict[str, float] = {}
    counts: Dict[str, int] = {}
    busy = 0.0
    covered_to = ordered[0].start_us
    for span in ordered:
        by_name[span.name] = by_name.get(span.name, 0.0) + span.end_us - span.start_us
        counts[span.name] = counts.get(span.name, 0) + 1
        busy += max(0.0, span.end_us - max(span.start_us, covered_to))
        covered_to = max(covered_to, span.end_us)
    window = max(span.end_us for span in ordered) - ordered[0].start_us
    return Timeline(window, busy, by_name, counts)


def kind_of(name: str) -> str:
    return next((kind for kind, pattern in KINDS if pattern.search(name)), "other")


def ranked(per_step_us: Mapping[str, float], total_us: float, count: Optional[int] = None) -> Ranked:
    """(name, seconds, share of `total_us`) for the largest `count` entries of `per_step_us`."""
    largest = sorted(per_step_us.items(), key=lambda item: -item[1])[:count]
    return tuple((name, us * 1e-6, us / total_us if total_us else 0.0) for name, us in largest)


def step_breakdown(short: Timeline, long: Timeline, steps: int) -> StepBreakdown:
    """What `long` adds over `short` per step of the `steps` it adds; the kernels ranked are those `long`
    launched more often (the prefill's cancel)."""
    if steps < 1:
        raise ValueError(f"the long generation must add steps to the short one, not {steps}")
    per_step = {
        name: (long.by_name.get(name, 0.0) - short.by_name.get(name, 0.0)) / steps
        for name, count in long.counts.items()
        if count > short.counts.get(name, 0)
    }
    kernel_us = (long.kernel_us - short.kernel_us) / steps
    device_us = (long.window_us - short.window_us) / steps
    busy_us = (long.busy_us - short.busy_us) / steps
    kinds: Dict[str, float] = {}
    for name, us in per_step.items():
        kinds[kind_of(name)] = kinds.get(kind_of(name), 0.0) + us
    return StepBreakdown(
        device_s=device_us * 1e-6,
        kernel_s=kernel_us * 1e-6,
        gaps_s=(device_us - busy_us) * 1e-6,
        kernels=(long.kernels - short.kernels) / steps,
        by_kernel=ranked(per_step, kernel_us),
        kinds=ranked(kinds, kernel_us),
    )


def median_breakdown(breakdowns: Sequence[StepBreakdown]) -> StepBreakdown:
    """The repeat whose device time per step is the median (its kernels then belong to one repeat)."""
    ordered = sorted(breakdowns, key=lambda breakdown: breakdown.device_s)
    return ordered[(len(ordered) - 1) // 2]


def shortest_same_cache(prompt_len: int, output_len: int) -> int:
    """The shortest output whose static KV cache (our path's) is as long as `output_len`'s."""
    length = cache_length(prompt_len, output_len)
    return next(n for n in range(1, output_len + 1) if cache_length(prompt_len, n) == length)


def device_spans(profiler: Any) -> List[Span]:
    from pytest_aotperf.measure.kernels import COPIES_AND_FILLS, KERNEL, activity_of

    return [
        Span(event.name, event.time_range.start, event.time_range.end)
        for event in profiler.events()
        if activity_of(event) in (KERNEL, *COPIES_AND_FILLS)
    ]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = script_parser(__doc__)
    add_generation_options(parser, warmup=1, iterations=3)
    parser.set_defaults(batch_sizes=[1])
    parser.add_argument("--short-output-len", type=int, help="default: the shortest with the long one's cache")
    add_llm_options(parser, "cudagraph,vllm", children=("profile",))
    add_out_folder(parser)
    args = parse_llm_args(parser, argv)
    if not args.backends or args.iterations < 1:
        parser.error("give at least one backend (--backends) and one iteration (--iterations)")
    if args.short_output_len is None:
        args.short_output_len = shortest_same_cache(args.prompt_len, args.output_len)
    if not 1 <= args.short_output_len < args.output_len:
        parser.error(f"--short-output-len {args.short_output_len} must be at least 1 and below --output-len")
    return args


def run_child(args: argparse.Namespace) -> None:
    """Profile the short and the long generation of one backend, `args.iterations` times each per batch size."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from pytest_aotperf.backends import create_backend
    from pytest_aotperf.environment import cpu_name, gpu_name
    from pytest_aotperf.recorder import PerfRecorder

    backend = create_backend(args.child_backend)
    options = llm_options(args, backend.name, backend.device, args.child_variant)
    cuda = torch.cuda.is_available()
    if cuda:
        with profile(activities=[ProfilerActivity.CUDA]):
            pass  # the profiler started once before any graph is captured, as torch asks of graphs it replays
    result: Dict[str, Any] = {
        "backend": backend.name,
        "variant": args.child_variant,
        "options": options,
        "device": backend.device,
        "device_name": gpu_name() or cpu_name(),
        "batches": {},
    }

    def generate(size: int, output_len: int) -> Tuple[float, Timeline]:
        """One greedy generation of `output_len` tokens: its latency, and its device work where CUDA runs it."""
        recorder = PerfRecorder.standalone(f"{backend.name}-{size}-{output_len}", backend.device)
        runner = backend.llm(args.model, recorder, **options)

        def latency() -> float:
            return runner.generate(size, args.prompt_len, output_len, warmup=0, iterations=1, greedy=True).latency_s[0]

        if not cuda:
            return latency(), timeline(())
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as profiler:
            seconds = latency()
            torch.cuda.synchronize()
        return seconds, timeline(device_spans(profiler))

    steps = args.output_len - args.short_output_len
    try:
        for size in args.batch_sizes:
            for _ in range(args.warmup):
                generate(size, args.output_len)
                generate(size, args.short_output_len)
            breakdowns, wall = [], []
            for _ in range(args.iterations):
                short_s, short = generate(size, args.short_output_len)
                long_s, long = generate(size, args.output_len)
                wall.append((long_s - short_s) / steps)
                if long.kernels > short.kernels:
                    breakdowns.append(step_breakdown(short, long, steps))
            entry: Dict[str, Any] = {"wall_s": statistics.median(wall), "steps": steps}
            if breakdowns:
                entry.update(asdict(median_breakdown(breakdowns)))
            else:
                entry["unavailable"] = NO_KERNELS if cuda else "no CUDA device: kernels are read by the CUDA profiler"
            result["batches"][size] = entry
    finally:
        backend.close()
    Path(args.child_out).write_text(json.dumps(result, allow_nan=False))


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def report(runs: Mapping[str, Any], floors: Mapping[int, Any]) -> None:
    """Per backend and batch size: the step's totals, then its top kernels and kinds."""
    for backend, run in runs.items():
        for size, entry in run["batches"].items():
            floor = floors.get(int(size))
            print(f"\n{backend}, batch {size} ({entry['steps']} steps profiled): wall {ms(entry['wall_s'])} per step")
            if "unavailable" in entry:
                print(f"  kernels: unavailable: {entry['unavailable']}")
                continue
            of_floor = ""
            if floor and entry["device_s"] > 0:
                of_floor = f"; the floor {ms(floor['step_s'])} is {floor['step_s'] / entry['device_s']:.1%} of it"
            print(
                f"  device {ms(entry['device_s'])}: kernels and copies {ms(entry['kernel_s'])} "
                f"({entry['kernels']:.0f}), gaps {ms(entry['gaps_s'])}{of_floor}"
            )
            print("  | kernel | µs per step | share |\n  |---|---|---|")
            for name, seconds, share in entry["by_kernel"][:TOP_KERNELS]:
                print(f"  | {name[:90]} | {seconds * 1e6:.1f} | {share:.1%} |")
            print("  | kind | µs per step | share |\n  |---|---|---|")
            for name, seconds, share in entry["kinds"]:
                print(f"  | {name} | {seconds * 1e6:.1f} | {share:.1%} |")


def main() -> None:
    args = parse_args()
    if args.child:
        run_child(args)
        return
    runs: Dict[str, Any] = {}
    arguments = {k: v for k, v in vars(args).items() if not k.startswith("child")}
    out = Path(args.out) / "decode_step.json"
    with tempfile.TemporaryDirectory(prefix="aotperf-decode-step-") as tmp:
        for name, backend, variant in variant_runs(args.backends, args.variants):
            caches = Path(tmp) / name
            caches.mkdir()
            child = ["--child", "profile", "--child-backend", backend]
            if variant:
                child += ["--child-variant", variant]
            runs[name] = run_in_child(__spec__.name, caches / "profile.json", child, caches, **IN_PROCESS_ENGINE)
            write_json(out, {"args": arguments, "runs": runs}, indent=2)  # a later backend's failure keeps it
    measured = next(iter(runs.values()))
    bandwidth = args.bandwidth_gbs or peak_bandwidth_gbs(measured["device_name"])
    dtype = resolve_dtype(resolve_model(args.model), measured["device"], args.dtype)
    floors = {size: bandwidth_floor(args, dtype, size, bandwidth) for size in args.batch_sizes if bandwidth}
    report(runs, floors)
    write_json(out, {"args": arguments, "runs": runs, "floor": floors}, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
