"""Capturing a compiled module into CUDA graphs, one per batch size in each graph set, with clear errors.

Each batch size is warmed up on a side stream, then captured largest first, with static input and
output buffers. A capture that fails says why, with a hint at the usual causes (a host
synchronisation, a CPU tensor in the forward pass).

cuBLAS workspaces: the graphs use workspaces allocated during their own capture, in their own
pools. torch caches one workspace per stream and frees them all when anyone calls
`torch._C._cuda_clearCublasWorkspaces()` (torch.compile's reduce-overhead does on every
recording), or frees a stream's when a graph captured on it is destroyed (pytorch/pytorch#193402):
a graph that embedded a cached workspace would then read and write freed memory. The captures
clear the cache before (so cuBLAS allocates into the graph pool) and after (so no cache entry
points into it), as torch's own CUDA graph trees do.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..compiled import CompileStats, stat
from ..metrics import Metric
from .inputs import resize_batch
from .replay import (
    OUTPUTS_LENT_OR_COPIED,
    OUTPUTS_VIEWS,
    VIEWS,
    CapturedGraph,
    CudaGraphModel,
    GraphSet,
    graph_set_modes,
)

MODES_WITHOUT_CUDAGRAPHS = (None, "default", "max-autotune-no-cudagraphs")
WARMUP_CALLS = 3
"""Calls per batch size on the side stream before its capture (lazy initialisation stays out of it)."""
HOST_SYNC_HINT = (
    "the forward pass synchronises with the host during capture (.item(), .tolist(), "
    ".cpu(), printing a tensor, or control flow on a tensor's value such as `if x.sum() > 0`)"
)
HOST_COPY_HINT = (
    "the forward pass copies a CPU tensor to the GPU during capture (a CPU tensor made or kept by the module)"
)
CAPTURE_ERROR = (
    "cannot capture {module} into a CUDA graph at batch size {batch_size}: {reason}. "
    "Remove the cause from the forward pass, or compile with fallback=True to run that "
    "batch size without a graph (recorded in the stats as capture_fallbacks)"
)


class CaptureError(RuntimeError):
    """A module that cannot be captured: names the module class, the batch size and the reason."""

    def __init__(self, module: str, batch_size: int, reason: str) -> None:
        super().__init__(CAPTURE_ERROR.format(module=module, batch_size=batch_size, reason=reason))
        self.module = module
        self.batch_size = batch_size
        self.reason = reason


@dataclass(frozen=True)
class CaptureRequest:
    """What to capture: a compiled module's graphs at `sizes`, into one graph set per mode."""

    compiled: Callable[..., Any]
    module_name: str
    """The module's class, for errors."""
    example_inputs: Tuple[Any, ...]
    sizes: Tuple[int, ...]
    modes: Tuple[str, ...]
    """One graph set (one memory pool) per mode; see graphs.replay."""
    fallback: bool
    """A size that cannot be captured runs without a graph (recorded) instead of raising CaptureError."""
    failed: Mapping[int, str] = field(default_factory=dict)
    """Sizes known beforehand not to be capturable, with the reason (fallback only)."""


@dataclass(frozen=True)
class Captured:
    """The graph sets a capture filled, what failed, and what it cost."""

    sets: Tuple[GraphSet, ...]
    failed: Dict[int, str]
    keep_alive: Tuple[Any, ...]
    """Graphs of failed captures: destroying them would free workspaces the others use."""
    seconds: float
    pool_bytes: int
    """Memory the graph pools reserved (torch's reserved memory growth during the capture)."""
    pool_allocated_bytes: int


def capture_graphs(request: CaptureRequest) -> Captured:
    """Warm each size up on a side stream, then capture it in every set, timing the whole."""
    import torch

    stream = torch.cuda.Stream()
    sets = tuple(GraphSet(mode) for mode in request.modes)
    failed = dict(request.failed)
    to_capture = [size for size in sorted(request.sizes, reverse=True) if size not in failed]
    start = time.perf_counter()
    static_inputs = {
        (index, size): resize_batch(request.example_inputs, size) for index in range(len(sets)) for size in to_capture
    }
    stream.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(stream):
        for size in to_capture:
            for _ in range(WARMUP_CALLS):
                request.compiled(*static_inputs[0, size])
    torch.cuda.synchronize()
    with _workspaces_in_graph_pools():
        torch.cuda.empty_cache()  # after the workspaces were freed: the pools' growth is what follows
        reserved_before = torch.cuda.memory_reserved()
        allocated_before = torch.cuda.memory_allocated()
        keep_alive = _capture_sets(request, sets, static_inputs, to_capture, stream, failed)
    torch.cuda.synchronize()
    return Captured(
        sets=sets,
        failed=failed,
        keep_alive=tuple(keep_alive),
        seconds=time.perf_counter() - start,
        pool_bytes=torch.cuda.memory_reserved() - reserved_before,
        pool_allocated_bytes=torch.cuda.memory_allocated() - allocated_before,
    )


def non_cuda_tensor(module: Any, example_inputs: Sequence[Any]) -> Optional[str]:
    """Why the module or inputs hold tensors a CUDA graph cannot replay, or None."""
    for position, value in enumerate(example_inputs):
        if value.device.type != "cuda":
            return f"input {position} is a {value.device.type} tensor; CUDA graphs replay CUDA tensors only"
    if not hasattr(module, "named_parameters"):
        return None
    for kind, named in (("parameter", module.named_parameters()), ("buffer", module.named_buffers())):
        for name, tensor in named:
            if tensor.device.type != "cuda":
                return (
                    f"its {kind} {name!r} is a {tensor.device.type} tensor; CUDA graphs cannot copy "
                    "host memory during replay: move the module to the GPU"
                )
    return None


def _capture_failure_reason(error: BaseException) -> str:
    """The first error in the chain (capture_end's own error hides it), with a hint at the cause."""
    first: BaseException = error
    while first.__context__ is not None and first.__context__ is not first:
        first = first.__context__
    said = str(first).strip().splitlines()[0] if str(first).strip() else type(first).__name__
    text = " ".join(str(e) for e in (error, first)).lower()
    if "pinned" in text or "cpu tensor" in text:
        return f"{HOST_COPY_HINT}; torch said: {said}"
    if "stream is capturing" in text or "synchroniz" in text:
        return f"{HOST_SYNC_HINT}; torch said: {said}"
    return f"torch said: {type(first).__name__}: {said}"


def _capture_one(compiled: Any, static_inputs: Tuple[Any, ...], pool: Any, stream: Any) -> Tuple[Any, Any]:
    import torch

    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.stream(stream):
        with torch.cuda.graph(graph, pool=pool, stream=stream):
            output = compiled(*static_inputs)
    return graph, output


def _end_failed_capture(stream: Any) -> Any:
    """Take torch's CUDA RNG out of capture mode after a failed capture; returns a graph to keep.

    CUDAGraph.capture_end raises before its epilogue when the capture failed, which leaves the
    default generator flagged as capturing: every later random op would fail ("Offset increment
    outside graph capture"). A successful capture of one small op runs that epilogue. The graph
    lives as long as the model's other graphs: destroying a graph frees its capture stream's
    cached cuBLAS workspace, which the model's earlier graphs use and its later captures could
    then overwrite.
    """
    import torch

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(stream):
        with torch.cuda.graph(graph, stream=stream):
            torch.zeros(1, device="cuda").add_(1)
    return graph


def _capture_sets(
    request: CaptureRequest,
    sets: Sequence[GraphSet],
    static_inputs: Dict[Tuple[int, int], Tuple[Any, ...]],
    sizes: Sequence[int],
    stream: Any,
    failed: Dict[int, str],
) -> List[Any]:
    """Capture each size's graph in every set (one pool each); returns graphs to keep alive with the model.

    A size whose capture fails in any set raises CaptureError, or with `request.fallback` is recorded
    in `failed` and served by no set.
    """
    import torch

    keep_alive: List[Any] = []
    pools = [torch.cuda.graph_pool_handle() for _ in sets]
    for size in sizes:
        graphs: List[Tuple[Any, Any]] = []
        try:
            for index in range(len(sets)):
                graphs.append(_capture_one(request.compiled, static_inputs[index, size], pools[index], stream))
        except Exception as error:  # raised as CaptureError, or recorded when fallback=True
            keep_alive.extend(graph for graph, _ in graphs)
            keep_alive.append(_end_failed_capture(stream))
            reason = _capture_failure_reason(error)
            if not request.fallback:
                raise CaptureError(request.module_name, size, reason) from error
            failed[size] = reason
            # torch keeps a failed capture's pool referenced; later graphs get a pool of their own
            pools[len(graphs)] = torch.cuda.graph_pool_handle()
            continue
        for index, (graph_set, (graph, output)) in enumerate(zip(sets, graphs)):
            graph_set.captured[size] = CapturedGraph(size, graph, static_inputs[index, size], output)
    return keep_alive


@contextlib.contextmanager
def _workspaces_in_graph_pools() -> Iterator[None]:
    """cuBLAS workspaces first used inside the block are allocated in its graphs' pools (module docstring)."""
    import torch

    torch._C._cuda_clearCublasWorkspaces()
    try:
        yield
    finally:
        torch._C._cuda_clearCublasWorkspaces()


def check_batch_sizes(batch_sizes: Optional[Sequence[int]], default: Sequence[int]) -> Tuple[int, ...]:
    """The sizes to capture (`default` when none are given), sorted and distinct; raises on a bad size."""
    sizes = tuple(default if not batch_sizes else batch_sizes)
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes):
        raise ValueError(f"batch_sizes must be positive integers, got {list(sizes)}")
    return tuple(sorted(set(sizes)))


def check_inputs(example_inputs: Sequence[Any]) -> None:
    """Capturable inputs: tensors with a batch dimension 0."""
    import torch

    if not example_inputs:
        raise TypeError("the cudagraph backend needs at least one example input")
    for position, value in enumerate(example_inputs):
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            kind = type(value).__name__ if not isinstance(value, torch.Tensor) else "0-dim tensor"
            raise TypeError(
                f"the cudagraph backend takes tensor inputs with a batch dimension 0; "
                f"input {position} is a {kind} (bind constants into the module instead)"
            )


def compile_kwargs_without_cudagraphs(mode: Optional[str], inductor_options: Dict[str, Any]) -> Dict[str, Any]:
    """torch.compile arguments for Inductor with its own CUDA graphs off."""
    if mode not in MODES_WITHOUT_CUDAGRAPHS:
        raise ValueError(
            f"mode={mode!r} is not one of {list(MODES_WITHOUT_CUDAGRAPHS)}: the cudagraph backend "
            "captures its own CUDA graphs, so Inductor's (reduce-overhead, max-autotune) stay off"
        )
    if inductor_options.get("triton.cudagraphs"):
        raise ValueError("triton.cudagraphs=True would capture Inductor's own CUDA graphs inside ours")
    if mode is not None and inductor_options:
        raise ValueError(
            f"torch.compile takes a mode or Inductor options, not both; got mode={mode!r} "
            f"and {sorted(inductor_options)}"
        )
    if mode is not None:
        return {"mode": mode}
    return {"options": {**inductor_options, "triton.cudagraphs": False}}


def capture_model(
    request: CaptureRequest, compile_metrics: Tuple[Metric, ...], details: Mapping[str, Any]
) -> CudaGraphModel:
    """Capture `request` and wrap the graphs in a model whose statistics say what compiling and capturing cost."""
    captured = capture_graphs(request)
    sets = captured.sets
    captured_sizes = sorted(sets[0].captured)
    stats = CompileStats(
        metrics=compile_metrics
        + (
            stat("capture_s", captured.seconds, "s", kind="duration"),
            stat("graphs_captured", len(captured_sizes) * len(sets), "count", kind="count", better="higher"),
            stat("capture_fallbacks", len(captured.failed), "count", kind="count"),
            stat("graph_pool_bytes", captured.pool_bytes, "B", kind="memory"),
        ),
        details={
            **details,
            "batch_sizes": list(request.sizes),
            "captured": captured_sizes,
            "fallback": dict(sorted(captured.failed.items())),
            "outputs": OUTPUTS_VIEWS if request.modes == (VIEWS,) else OUTPUTS_LENT_OR_COPIED,
            "graph_sets": [graph_set.mode for graph_set in sets],
            "graph_pool_allocated_bytes": captured.pool_allocated_bytes,
            "warmup_calls": WARMUP_CALLS,
        },
    )
    return CudaGraphModel(request.compiled, sets, stats, captured.keep_alive)


def capture_compiled(
    compiled: Callable[..., Any],
    module_name: str,
    example_inputs: Sequence[Any],
    sizes: Tuple[int, ...],
    details: Mapping[str, Any],
    *,
    fallback: bool = False,
    return_views: bool = False,
) -> CudaGraphModel:
    """Capture a module compiled elsewhere (its compile is not timed here) at `sizes` (checked ones)."""
    check_inputs(example_inputs)
    request = CaptureRequest(
        compiled, module_name, tuple(example_inputs), sizes, graph_set_modes(return_views), fallback
    )
    return capture_model(request, (), details)
