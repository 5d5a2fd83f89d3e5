"""What every LLM runner records, under the same names on every backend: generation and build metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, List, Mapping, Optional, Sequence, Tuple, TypeVar

from ..metrics import Kind

if TYPE_CHECKING:
    from ..recorder import PerfRecorder

BENCH_PROMPT_ID_LIMIT = 10000
"""vLLM's latency benchmark draws prompt ids below 10000; so do we (below the vocabulary if smaller)."""


@dataclass(frozen=True)
class Generation:
    """The samples of one `generate` call: per iteration (latency, tokens/s) or per request (ttft, tpot).

    `token_ids` are the output tokens of the last iteration, per request.
    """

    latency_s: Tuple[float, ...]
    ttft_s: Tuple[float, ...]
    tpot_s: Tuple[float, ...]
    output_tokens_per_s: Tuple[float, ...]
    token_ids: TokenIds = ()


TokenIds = Tuple[Tuple[int, ...], ...]
"""Output tokens per request."""
MAX_ITERATIONS = 40
"""The most timed generations a runner takes while latency and TPOT are still wider than their tolerance allows."""
T = TypeVar("T")


def iterate_until_tight(
    iterate: Callable[[], T],
    iterations: int,
    max_iterations: int,
    series: Callable[[List[T]], Sequence[Sequence[float]]],
    recorder: PerfRecorder,
) -> List[T]:
    """`iterations` results of `iterate()`, then more (up to `max_iterations`) until every one of `series`
    (latency, TPOT) has a median interval narrower than a quarter of the test's latency tolerance."""
    from ..measure.adaptive import more_iterations_needed

    results = [iterate() for _ in range(iterations)]
    tolerance = recorder.tolerance_for("latency")
    cap = max(iterations, max_iterations)
    while tolerance is not None and (more := more_iterations_needed(series(results), tolerance, cap)):
        results += [iterate() for _ in range(more)]
    return results


def check_generate_arguments(batch_size: int, prompt_len: int, output_len: int, warmup: int, iterations: int) -> None:
    if min(batch_size, prompt_len, output_len, iterations) < 1 or warmup < 0:
        raise ValueError("batch_size, prompt_len, output_len and iterations must be at least 1, warmup at least 0")


def prompt_token_ids(vocab_size: int, batch_size: int, prompt_len: int, seed: int) -> List[List[int]]:
    """The prompts every backend generates from: ids drawn as vLLM's latency benchmark draws them."""
    import numpy as np

    id_limit = min(BENCH_PROMPT_ID_LIMIT, vocab_size)
    ids: List[List[int]] = np.random.default_rng(seed).integers(id_limit, size=(batch_size, prompt_len)).tolist()
    return ids


def record_generation(
    recorder: PerfRecorder, generation: Generation, shape: Mapping[str, int], no_request_stats: str = ""
) -> None:
    """latency, output_tokens_per_s, ttft and tpot; `no_request_stats` says why ttft is missing, if it is.

    All move with the host's speed (`host_speed`): a generation step issues its kernels from Python, one
    decode step at a time, and no device time is taken beside them to show otherwise. On two fresh H200s
    the eager LLM test's latency read 286 and 510 ms, and the CUDA-graph one's TTFT 1.18 and 2.46 ms."""
    context = dict(shape)
    recorder.record_samples("latency", generation.latency_s, unit="s", context=context, host_speed=True)
    recorder.record_samples(
        "output_tokens_per_s",
        generation.output_tokens_per_s,
        unit="tokens/s",
        better="higher",
        kind="value",
        context=context,
        host_speed=True,
    )
    if generation.ttft_s:
        recorder.record_samples("ttft", generation.ttft_s, unit="s", context=context, host_speed=True)
    else:
        recorder.record_unavailable("ttft", no_request_stats, unit="s", kind="timing")
    if generation.tpot_s:
        recorder.record_samples("tpot", generation.tpot_s, unit="s", context=context, host_speed=True)
    else:
        reason = "output_len 1 has no decode step" if shape["output_len"] <= 1 else no_request_stats
        recorder.record_unavailable("tpot", reason, unit="s", kind="timing")


def cache_metric(stem: str, cache: str) -> str:
    """`engine_build_cold_s`, `compile_warm_s`, ...: a cold build is only ever compared with a cold one."""
    return f"{stem}_{cache}_s" if cache != "none" else f"{stem}_s"


def without_cache_state(name: str) -> str:
    """`engine_build_cold_s` -> `engine_build_s`: `cache_metric`'s name whatever the compile cache was."""
    return name.replace("_cold_s", "_s").replace("_warm_s", "_s")


@dataclass(frozen=True)
class GraphCapture:
    """What capturing CUDA graphs took: seconds and graph-pool memory."""

    seconds: float
    memory_bytes: float


@dataclass(frozen=True)
class Part:
    """One cost of a build, as a runner read it: its value, or why there is none, and how it was read (context)."""

    value: Optional[float] = None
    unavailable: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildParts:
    """What building an engine (vLLM's) or a generation shape's steps (the other backends') cost."""

    compile_cache: str
    """"cold", "warm" or "none": names the build and compile metrics, so a cold build is compared with a cold one."""
    whole: Part
    """The whole build: vLLM's engine start as timed, or the other backends' model, compile and capture summed."""
    compile: Part
    capture: Part
    graph_memory: Part
    summed: bool = False
    """Whether `whole` is the sum of the parts (then recorded after them)."""


def record_build(recorder: PerfRecorder, build: BuildParts) -> None:
    """engine_build_*_s, compile_*_s, cudagraph_capture_s and cudagraph_memory, under the same names on every
    backend; a part that is missing is recorded as unavailable, with the reason."""
    cache = build.compile_cache
    if not build.summed:
        record_part(recorder, cache_metric("engine_build", cache), build.whole, "s", "duration", compile_cache=cache)
    record_part(recorder, cache_metric("compile", cache), build.compile, "s", "duration", compile_cache=cache)
    record_part(recorder, "cudagraph_capture_s", build.capture, "s", "duration")
    record_part(recorder, "cudagraph_memory", build.graph_memory, "B", "memory")
    if build.summed:
        record_part(recorder, cache_metric("engine_build", cache), build.whole, "s", "duration", compile_cache=cache)


def record_part(recorder: PerfRecorder, name: str, part: Part, unit: str, kind: Kind, **context: Any) -> None:
    """`part` as metric `name` with its context and `context`, or as unavailable (named whatever the cache)."""
    if part.value is None:
        recorder.record_unavailable(without_cache_state(name), part.unavailable, unit=unit, kind=kind)
    else:
        recorder.record(name, part.value, unit=unit, kind=kind, **context, **part.context)
