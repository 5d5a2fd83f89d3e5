"""The prefill and decode steps for one generation shape, as each backend runs them, and what building them cost.

- `eager`: `static_cache.forward_step` as it is.
- `inductor`: prefill and decode step each torch.compile'd (static shapes, one graph each).
- `cudagraph`: both compiled, and the decode step captured into a CUDA graph for the batch padded up to
  the next capture size, as the cudagraph backend captures (graphs.capture: side-stream warm-up, its graph pool,
  cuBLAS workspaces inside the pool, CaptureError naming the cause). Decode calls then replay it: a
  smaller batch copies its rows into the graph's static inputs and reads its rows back.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from ...measure.dynamo import compiling
from ..metrics import GraphCapture
from .generation import Step
from .static_cache import StaticKVCache, forward_step

MODES = ("eager", "inductor", "cudagraph")
CACHE_QUANTUM = 64
"""Cache lengths are rounded up to a multiple of this: attention reads the whole cache every step."""


@dataclass(frozen=True)
class Shape:
    """A generation shape: the batch, the prompt length and the KV cache's length."""

    batch: int
    prompt_len: int
    cache_len: int


@dataclass(frozen=True)
class BuildCost:
    """What building a shape's steps cost: compile time and Inductor cache state, CUDA-graph capture."""

    compile_s: Optional[float] = None
    compile_cache: str = "none"
    """"cold" (Inductor compiled), "warm" (all from its FX graph cache) or "none" (nothing compiled)."""
    capture: Optional[GraphCapture] = None
    """The decode graph's capture time and graph-pool growth (cudagraph only)."""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Program:
    """A shape's prefill and decode steps, and their cost. `graphs` is the captured decode step, if any."""

    shape: Shape
    prefill: Step
    decode: Step
    cost: BuildCost
    graphs: Any = None


def cache_length(prompt_len: int, output_len: int) -> int:
    """The KV cache length for a generation: every position it writes, rounded up to CACHE_QUANTUM."""
    needed = prompt_len + output_len - 1
    return -(-needed // CACHE_QUANTUM) * CACHE_QUANTUM


def capture_size(batch: int, capture_sizes: Sequence[int]) -> int:
    """The captured batch that serves `batch`: the next capture size up, or the batch itself above them all."""
    return min((size for size in capture_sizes if size >= batch), default=batch)


def inductor_counts() -> Tuple[int, int]:
    """(FX graph cache hits, misses) so far in this process."""
    from torch._dynamo.utils import counters

    return counters["inductor"]["fxgraph_cache_hit"], counters["inductor"]["fxgraph_cache_miss"]


def cache_state(before: Tuple[int, int], after: Tuple[int, int]) -> str:
    """ "cold" when Inductor compiled any graph, "warm" when it loaded every one from its cache, else "none"."""
    hits, misses = after[0] - before[0], after[1] - before[1]
    return "cold" if misses else "warm" if hits else "none"


def build_program(
    model: Any,
    mode: str,
    shape: Shape,
    *,
    capture_sizes: Sequence[int] = (),
    compile_kwargs: Optional[Mapping[str, Any]] = None,
    split_argmax: bool = False,
    synchronize: Callable[[], None] = lambda: None,
) -> Program:
    """The steps of `shape` for backend `mode`, compiled (and captured) now, so that generation only runs them
    (with `split_argmax`, the greedy argmax in two stages: `static_cache.greedy_tokens`)."""
    import torch

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    rows = capture_size(shape.batch, capture_sizes) if mode == "cudagraph" else shape.batch
    device = next(model.parameters()).device
    cache = StaticKVCache.allocate(model.config, rows, shape.cache_len, model.dtype, device)
    step = functools.partial(forward_step, model, cache, split_argmax=split_argmax)
    if mode == "eager":
        return Program(shape, step, step, BuildCost(details={"cache_rows": rows}))
    kwargs = {"dynamic": False, "fullgraph": True, **(compile_kwargs or {})}
    prefill, decode = torch.compile(step, **kwargs), torch.compile(step, **kwargs)
    prompt = torch.zeros((shape.batch, shape.prompt_len), dtype=torch.long, device=device)
    positions = torch.arange(shape.prompt_len, device=device).repeat(shape.batch, 1)
    token = torch.zeros((rows, 1), dtype=torch.long, device=device)
    position = torch.zeros((rows, 1), dtype=torch.long, device=device)
    counts = inductor_counts()
    with compiling():  # without the recompile limit: forward_step is one code object for every shape
        start = time.perf_counter()
        with torch.no_grad():
            prefill(prompt, positions)
            decode(token, position)
            synchronize()
        compile_s = time.perf_counter() - start
    compiled = BuildCost(
        compile_s=compile_s,
        compile_cache=cache_state(counts, inductor_counts()),
        details={"cache_rows": rows, "compile": {key: repr(value) for key, value in kwargs.items()}},
    )
    if mode == "inductor":
        return Program(shape, prefill, decode, compiled)
    return capture_decode(shape, prefill, decode, (token, position), rows, compiled, model)


def capture_decode(
    shape: Shape, prefill: Step, decode: Step, example: Tuple[Any, Any], rows: int, compiled: BuildCost, model: Any
) -> Program:
    """Capture the compiled decode step at `rows` with the cudagraph backend (views of one graph set's outputs)."""
    from ...graphs.capture import capture_compiled

    details = {"compiled": "decode step, compiled for its shape"}
    graphs = capture_compiled(decode, type(model).__name__, example, (rows,), details, return_views=True)
    stats = graphs.stats
    cost = BuildCost(
        compile_s=compiled.compile_s,
        compile_cache=compiled.compile_cache,
        capture=GraphCapture(
            seconds=stats.value("capture_s") or 0.0, memory_bytes=stats.value("graph_pool_bytes") or 0.0
        ),
        details={**compiled.details, "captured_batch": rows, "padded_from": shape.batch},
    )
    return Program(shape, prefill, graphs, cost, graphs=graphs)


def graph_statistics(program: Program) -> Dict[str, float]:
    """Replays, padded and ungraphed decode calls of a captured program so far (empty without graphs)."""
    if program.graphs is None:
        return {}
    stats = program.graphs.stats
    return {name: stats.value(name) or 0.0 for name in ("replays", "padded_calls", "ungraphed_calls")}
