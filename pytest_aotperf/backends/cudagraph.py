"""`cudagraph`: Inductor without its own CUDA graphs, then one CUDA graph per batch size, replayed.

Compiling runs torch.compile (cold, timed, one Inductor graph per batch size), warms each batch size
up on a side stream and captures one `torch.cuda.CUDAGraph` per batch size, largest first, into
one shared memory pool, with static input and output buffers.

Calls route on the batch size (dimension 0 of the inputs):

- a captured size copies the inputs into its static buffers and replays its graph;
- a smaller uncaptured size is padded up to the next captured size: only its rows are copied in
  (the padding rows keep earlier valid values) and the output rows are sliced back, which is
  right for modules whose output rows depend on their own input row only (inference models);
- a size above every captured one, or other non-batch dimensions than captured, runs the
  compiled module without a graph.

Padded and ungraphed calls are counted in the live statistics.

Outputs: by default each call returns fresh tensors (a clone of the static output), so a caller
may keep results across calls. With `return_views=True` a call returns views of the graph's static
output buffers, which the next call that replays the same graph overwrites; that saves one copy.
"""

from __future__ import annotations

import itertools
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .base import Backend, BackendUnsupported, CompiledModel, CompileStats, StatMetric
from .inductor import compile_for_batch_sizes
from .inputs import resize_batch

NAME = "cudagraph"
DEFAULT_BATCH_SIZES = (1, 2, 4, 8)
NO_CUDA_REASON = "CUDA graphs need a CUDA device; torch.cuda.is_available() is False"
MODES_WITHOUT_CUDAGRAPHS = (None, "default", "max-autotune-no-cudagraphs")
WARMUP_CALLS = 3
STREAMS_PER_POOL = 32
"""torch hands out streams of one priority round-robin from a pool of this many."""
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


def batch_routes(captured: Sequence[int]) -> Dict[int, int]:
    """For every batch size up to the largest captured one, the captured size that serves it."""
    ordered = sorted(captured)
    return {size: next(c for c in ordered if c >= size) for size in range(1, ordered[-1] + 1)} if ordered else {}


def _constant(value: Any) -> Callable[[], Any]:
    """A callable returning `value`, implemented in C (no Python frame on the replay path)."""
    return itertools.repeat(value).__next__


class _Replay:
    """One route of the call table: the graph, the input buffers to fill and how to return outputs."""

    __slots__ = ("graph", "inputs", "shapes", "output", "padded", "calls")

    def __init__(self, graph: Any, inputs: Tuple[Any, ...], output: Callable[[], Any], padded: bool) -> None:
        self.graph = graph
        self.inputs = inputs
        self.shapes = tuple(buffer.shape for buffer in inputs)
        self.output = output
        self.padded = padded
        self.calls = 0


class _Captured:
    """One batch size's graph with its static input and output buffers."""

    def __init__(self, batch_size: int, graph: Any, inputs: Tuple[Any, ...], output: Any) -> None:
        from torch.utils._pytree import tree_flatten

        self.batch_size = batch_size
        self.graph = graph
        self.inputs = inputs
        self.output = output
        self.leaves, self.spec = tree_flatten(output)

    def can_pad(self) -> bool:
        """Padding needs every output tensor to carry the batch in dimension 0, to slice it back."""
        import torch

        return all(
            leaf.dim() > 0 and leaf.shape[0] == self.batch_size
            for leaf in self.leaves
            if isinstance(leaf, torch.Tensor)
        )

    def replay_for(self, rows: int, return_views: bool) -> _Replay:
        """The route for calls of `rows` rows (this batch size, or fewer rows padded up to it)."""
        import torch
        from torch.utils._pytree import tree_unflatten

        padded = rows != self.batch_size
        inputs = tuple(buffer[:rows] if padded else buffer for buffer in self.inputs)
        views = [leaf[:rows] if padded and isinstance(leaf, torch.Tensor) else leaf for leaf in self.leaves]
        spec = self.spec
        if spec.is_leaf() and isinstance(views[0], torch.Tensor):
            output = _constant(views[0]) if return_views else views[0].clone
        elif return_views:

            def output() -> Any:
                return tree_unflatten(list(views), spec)
        else:

            def output() -> Any:
                return tree_unflatten([v.clone() if isinstance(v, torch.Tensor) else v for v in views], spec)

        return _Replay(self.graph, inputs, output, padded)


class CudaGraphRunner:
    """Replays the captured graphs; runs the compiled module for what no graph serves."""

    def __init__(
        self,
        compiled: Any,
        captured: Sequence[_Captured],
        return_views: bool,
        stats: Callable[["CudaGraphRunner"], CompileStats],
        keep_alive: Sequence[Any] = (),
    ) -> None:
        self.compiled = compiled
        self._captured = tuple(captured)
        self._keep_alive = tuple(keep_alive)
        by_size = {c.batch_size: c for c in captured}
        self._routes: Dict[int, _Replay] = {}
        for rows, size in batch_routes(list(by_size)).items():
            if rows == size or by_size[size].can_pad():
                self._routes[rows] = by_size[size].replay_for(rows, return_views)
        self._arity = len(captured[0].inputs) if captured else None
        self._stats = stats
        self.ungraphed_calls = 0

    def __call__(self, *inputs: Any) -> Any:
        if len(inputs) != self._arity:
            return self._run_ungraphed(inputs)
        replay = self._routes.get(inputs[0].shape[0])
        if replay is None:
            return self._run_ungraphed(inputs)
        for buffer, shape, value in zip(replay.inputs, replay.shapes, inputs):
            if value.shape != shape:
                return self._run_ungraphed(inputs)
            buffer.copy_(value)
        replay.graph.replay()
        replay.calls += 1
        return replay.output()

    def _run_ungraphed(self, inputs: Tuple[Any, ...]) -> Any:
        import torch

        self.ungraphed_calls += 1
        with torch.no_grad():
            return self.compiled(*inputs)

    @property
    def replays(self) -> int:
        return sum(r.calls for r in self._routes.values())

    @property
    def padded_calls(self) -> int:
        return sum(r.calls for r in self._routes.values() if r.padded)

    @property
    def served_sizes(self) -> Tuple[int, ...]:
        """Batch sizes that replay a graph (captured, or padded up to a captured one)."""
        return tuple(sorted(self._routes))

    def stats(self) -> CompileStats:
        return self._stats(self)


class CudaGraphModel(CompiledModel):
    """The compiled model; `compiled` is the torch.compile'd module the graphs were captured from."""

    @property
    def compiled(self) -> Any:
        return self._call.compiled


def _check_batch_sizes(batch_sizes: Optional[Sequence[int]]) -> Tuple[int, ...]:
    sizes = tuple(DEFAULT_BATCH_SIZES if not batch_sizes else batch_sizes)
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in sizes):
        raise ValueError(f"batch_sizes must be positive integers, got {list(sizes)}")
    return tuple(sorted(set(sizes)))


def _check_inputs(example_inputs: Sequence[Any]) -> None:
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


def _compile_kwargs(mode: Optional[str], inductor_options: Dict[str, Any]) -> Dict[str, Any]:
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


def _non_cuda_tensor(module: Any, example_inputs: Sequence[Any]) -> Optional[str]:
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
    cuBLAS workspace, which the graphs captured before it on that stream use.
    """
    import torch

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(stream):
        with torch.cuda.graph(graph, stream=stream):
            torch.zeros(1, device="cuda").add_(1)
    return graph


class CudaGraphBackend(Backend):
    """Inductor, then manual CUDA graph capture per batch size (see the module docstring)."""

    name = NAME

    def __init__(self) -> None:
        self._streams: List[Any] = []
        """Capture streams made so far, reused once their models are gone (each holds a cuBLAS workspace)."""
        self._live_streams: Dict[int, int] = {}
        """Capture streams of the live compiled models, with how many models use each."""

    def default_batch_sizes(self, example_inputs: Sequence[Any]) -> Tuple[int, ...]:
        return DEFAULT_BATCH_SIZES

    def unavailable_reason(self) -> Optional[str]:
        import torch

        return None if torch.cuda.is_available() else NO_CUDA_REASON

    @property
    def device(self) -> str:
        return "cuda"

    def compile(
        self,
        module: Any,
        example_inputs: Sequence[Any],
        batch_sizes: Optional[Sequence[int]] = None,
        *,
        mode: Optional[str] = None,
        fallback: bool = False,
        return_views: bool = False,
        **inductor_options: Any,
    ) -> CudaGraphModel:
        """torch.compile `module` (cold, timed), then capture a graph for each batch size.

        `fallback=True`: a batch size that cannot be captured runs without a graph (recorded as
        `capture_fallbacks` and in details["fallback"]); otherwise it raises `CaptureError`.
        `return_views=True`: calls return views of the static outputs (see the module docstring).
        """
        import torch

        sizes = _check_batch_sizes(batch_sizes)
        _check_inputs(example_inputs)
        kwargs = _compile_kwargs(mode, inductor_options)
        self._require_cuda()
        module_name = type(module).__name__
        unreplayable = _non_cuda_tensor(module, example_inputs)
        if unreplayable is not None and not fallback:
            raise CaptureError(module_name, sizes[-1], unreplayable)
        compiled = torch.compile(module, dynamic=False, **kwargs)
        # Every batch size is compiled, however many graphs other modules sharing this forward's code
        # already hold: only dynamo's global cap (accumulated_recompile_limit) bounds it here.
        limit = max(torch._dynamo.config.recompile_limit, torch._dynamo.config.accumulated_recompile_limit)
        with torch._dynamo.config.patch(recompile_limit=limit):
            compile_s, graphs = compile_for_batch_sizes(compiled, module, example_inputs, sizes, "cuda")
        compile_metrics = (
            StatMetric("compile_s", compile_s, "s", kind="duration"),
            StatMetric("graphs", graphs, "count"),
        )
        details = {"mode": mode, "inductor_options": dict(inductor_options)}
        failed = {size: unreplayable for size in sizes} if unreplayable is not None else {}
        return self._capture(
            compiled,
            module,
            example_inputs,
            sizes,
            compile_metrics,
            details,
            fallback=fallback,
            return_views=return_views,
            failed=failed,
        )

    def capture(
        self,
        compiled: Any,
        module: Any,
        example_inputs: Sequence[Any],
        batch_sizes: Optional[Sequence[int]] = None,
        *,
        fallback: bool = False,
        return_views: bool = False,
    ) -> CudaGraphModel:
        """Capture graphs of a module already compiled elsewhere (its compile is not timed here)."""
        sizes = _check_batch_sizes(batch_sizes)
        _check_inputs(example_inputs)
        self._require_cuda()
        details = {"compiled": "elsewhere: compile_s and graphs not measured by this backend"}
        return self._capture(
            compiled,
            module,
            example_inputs,
            sizes,
            (),
            details,
            fallback=fallback,
            return_views=return_views,
            failed={},
        )

    def _require_cuda(self) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnsupported(reason)

    def _capture_stream(self) -> Tuple[Any, bool]:
        """A high-priority stream that no live model of this backend captured on, and whether shared.

        torch frees a stream's cuBLAS workspace whenever a graph captured on that stream is
        destroyed (CUDAGraph.reset), although other live graphs captured on it still use it
        (pytorch/pytorch#193402). So each model captures on a stream of its own, from the
        high-priority pool, which default-priority users (reduce-overhead, most code) do not draw from.
        """
        import torch

        free = [s for s in self._streams if s.cuda_stream not in self._live_streams]
        if free:
            return free[0], False
        if len(self._streams) < STREAMS_PER_POOL:
            self._streams.append(torch.cuda.Stream(priority=-1))
            return self._streams[-1], False
        return self._streams[0], True

    def _stream_released(self, handle: int) -> None:
        self._live_streams[handle] -= 1
        if not self._live_streams[handle]:
            del self._live_streams[handle]

    def _capture(
        self, compiled, module, example_inputs, sizes, compile_metrics, details, *, fallback, return_views, failed
    ) -> CudaGraphModel:
        import torch

        stream, stream_shared = self._capture_stream()
        keep_alive = []
        module_name = type(module).__name__
        to_capture = [size for size in sorted(sizes, reverse=True) if size not in failed]
        start = time.perf_counter()
        static_inputs = {size: resize_batch(example_inputs, size) for size in to_capture}
        stream.wait_stream(torch.cuda.current_stream())
        with torch.no_grad(), torch.cuda.stream(stream):
            for size in to_capture:
                for _ in range(WARMUP_CALLS):
                    compiled(*static_inputs[size])
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        reserved_before = torch.cuda.memory_reserved()
        allocated_before = torch.cuda.memory_allocated()
        pool = torch.cuda.graph_pool_handle()
        captured: List[_Captured] = []
        for size in to_capture:
            try:
                graph, output = _capture_one(compiled, static_inputs[size], pool, stream)
            except Exception as error:  # raised as CaptureError, or recorded when fallback=True
                keep_alive.append(_end_failed_capture(stream))
                reason = _capture_failure_reason(error)
                if not fallback:
                    raise CaptureError(module_name, size, reason) from error
                failed[size] = reason
                # torch keeps a failed capture's pool referenced; later graphs get a pool of their own
                pool = torch.cuda.graph_pool_handle()
                continue
            captured.append(_Captured(size, graph, static_inputs[size], output))
        torch.cuda.synchronize()
        capture_s = time.perf_counter() - start
        pool_bytes = torch.cuda.memory_reserved() - reserved_before
        pool_allocated = torch.cuda.memory_allocated() - allocated_before
        fixed_metrics = compile_metrics + (
            StatMetric("capture_s", capture_s, "s", kind="duration"),
            StatMetric("graphs_captured", len(captured), "count", better="higher"),
            StatMetric("capture_fallbacks", len(failed), "count"),
            StatMetric("graph_pool_bytes", pool_bytes, "B", kind="memory"),
        )
        fixed_details = {
            "backend": NAME,
            **details,
            "batch_sizes": list(sizes),
            "captured": sorted(c.batch_size for c in captured),
            "fallback": dict(sorted(failed.items())),
            "outputs": "views of static buffers" if return_views else "fresh tensors (cloned)",
            "graph_pool_allocated_bytes": pool_allocated,
            "warmup_calls": WARMUP_CALLS,
            "capture_stream": (
                f"shared with another live model: more than {STREAMS_PER_POOL} live models (see pytorch/pytorch#193402)"
                if stream_shared
                else "its own"
            ),
        }

        def live_stats(runner: CudaGraphRunner) -> CompileStats:
            return CompileStats(
                metrics=fixed_metrics
                + (
                    StatMetric("replays", runner.replays, "count", better="higher"),
                    StatMetric("padded_calls", runner.padded_calls, "count"),
                    StatMetric("ungraphed_calls", runner.ungraphed_calls, "count"),
                ),
                details={**fixed_details, "served_sizes": list(runner.served_sizes)},
            )

        runner = CudaGraphRunner(compiled, captured, return_views, live_stats, keep_alive)
        self._live_streams[stream.cuda_stream] = self._live_streams.get(stream.cuda_stream, 0) + 1
        weakref.finalize(runner, self._stream_released, stream.cuda_stream)
        return CudaGraphModel(runner, runner.stats(), module=module, live_stats=runner.stats)
