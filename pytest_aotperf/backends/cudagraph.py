"""`cudagraph`: Inductor without its own CUDA graphs, then CUDA graphs per batch size, replayed.

Compiling runs torch.compile (cold, timed, one Inductor graph per batch size), warms each batch size
up on a side stream and captures `torch.cuda.CUDAGraph`s per batch size, largest first, one in
each graph set (below), with static input and output buffers.

Calls route on the batch size (dimension 0 of the inputs):

- a captured size copies the inputs into its static buffers and replays its graph;
- a smaller uncaptured size is padded up to the next captured size: only its rows are copied in
  (the padding rows keep earlier valid values) and the output rows are sliced back, which is
  right for modules whose output rows depend on their own input row only (inference models);
- a size above every captured one, or other non-batch dimensions than captured, runs the
  compiled module without a graph.

Padded and ungraphed calls are counted in the live statistics.

Outputs: a call returns tensors the caller may keep, without a copy where none is needed. Each
batch size has a graph in each of LENDING_SETS + 1 graph sets. A set is one memory pool:
replaying any of its graphs may overwrite the outputs of all of them, and of no other set. A call
replays a lending set none of whose outputs the caller still holds (read from the output
storages' reference counts) and returns views of that graph's outputs; when the caller holds
outputs of every lending set, it replays the copying set and returns clones (counted as
`copied_outputs`). With `return_views=True` there is one set, and calls always return views of
its outputs, which the next call may overwrite.

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
import functools
import itertools
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .base import BackendUnsupported, CompiledModel, CompileStats, StatMetric
from .hf_llm import HfLlmBackend
from .inductor import compile_for_batch_sizes
from .inputs import resize_batch

NAME = "cudagraph"
DEFAULT_BATCH_SIZES = (1, 2, 4, 8)
NO_CUDA_REASON = "CUDA graphs need a CUDA device; torch.cuda.is_available() is False"
MODES_WITHOUT_CUDAGRAPHS = (None, "default", "max-autotune-no-cudagraphs")
WARMUP_CALLS = 3
"""Calls per batch size on the side stream before its capture (lazy initialisation stays out of it)."""
LENDING_SETS = 2
"""Graph sets whose outputs calls return as views. With two, a caller that still holds the last
result while it makes the next call (`out = model(x)` in a loop) never waits for a copy."""
LENT, COPIED, VIEWS = "lent", "copied", "views"
"""How a graph set returns outputs: views while the caller holds none; always clones; always views."""
OUTPUTS_LENT_OR_COPIED = "views while the caller holds none of a lending set's outputs, else copies (safe to keep)"
OUTPUTS_VIEWS = "views of static buffers (the next call may overwrite them)"
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
    """One graph set's way to serve a route: the graph, the input buffers to fill, how to return outputs."""

    __slots__ = ("launch", "inputs", "copy_in", "shapes", "output", "padded", "copies", "free", "lend", "calls")

    def __init__(
        self,
        graph: Any,
        inputs: Tuple[Any, ...],
        output: Callable[[], Any],
        padded: bool,
        copies: bool,
        free: Callable[[], bool],
        lend: Callable[[], None],
    ) -> None:
        self.launch = graph.replay
        self.inputs = inputs
        self.copy_in = inputs[0].copy_
        """Fills the first input buffer (the only one, mostly): bound once, as is `launch`."""
        self.shapes = tuple(buffer.shape for buffer in inputs)
        self.output = output
        self.padded = padded
        self.copies = copies
        self.free = free
        """Whether this set may replay now (outputs the caller holds would be overwritten)."""
        self.lend = lend
        """Notes that the call's outputs are lent out (they are views of this graph's static outputs)."""
        self.calls = 0


class CapturedGraph:
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


class GraphSet:
    """One graph per batch size in one memory pool, returning outputs as `mode` says (LENT, COPIED, VIEWS).

    A LENT set lends only while free: while the caller holds no tensor over the outputs of the
    graph it lent last. Those are the only outputs of the set the caller can hold, since the set
    lends again only once they are released.
    """

    def __init__(self, mode: str) -> None:
        import torch

        self.mode = mode
        self.captured: Dict[int, CapturedGraph] = {}
        self._owned: Dict[int, List[Tuple[int, int]]] = {}
        """Per batch size: each output storage of its graph, with its reference count without the caller."""
        self._lent: List[Tuple[int, int]] = []
        self._use_count: Callable[[int], int] = torch._C._storage_Use_Count

    def replay_for(self, size: int, rows: int) -> _Replay:
        """The route for calls of `rows` rows: this set's graph of `size` (padded up when rows < size)."""
        import torch
        from torch.utils._pytree import tree_unflatten

        captured = self.captured[size]
        padded = rows != size
        inputs = tuple(buffer[:rows] if padded else buffer for buffer in captured.inputs)
        views = [leaf[:rows] if padded and isinstance(leaf, torch.Tensor) else leaf for leaf in captured.leaves]
        spec = captured.spec
        if self.mode == VIEWS:
            output = _constant(views[0]) if spec.is_leaf() else functools.partial(tree_unflatten, views, spec)
            return _Replay(captured.graph, inputs, output, padded, False, _constant(True), _constant(None))
        # Lent outputs are fresh tensors over the static storage: holding one shows in the storage's count
        fresh = "clone" if self.mode == COPIED else "detach"
        if spec.is_leaf() and isinstance(views[0], torch.Tensor):
            output = getattr(views[0], fresh)
        else:

            def output() -> Any:
                return tree_unflatten([getattr(v, fresh)() if isinstance(v, torch.Tensor) else v for v in views], spec)

        if self.mode == COPIED:
            return _Replay(captured.graph, inputs, output, padded, True, _constant(True), _constant(None))
        lend = functools.partial(setattr, self, "_lent", self._owned.setdefault(size, []))
        return _Replay(captured.graph, inputs, output, padded, False, self.free, lend)

    def watch(self) -> None:
        """Note each output storage's reference count, once the routes' own views of it exist."""
        import torch

        for size, owned in self._owned.items():
            storages = {leaf.untyped_storage()._cdata for leaf in self.captured[size].leaves if torch.is_tensor(leaf)}
            owned[:] = [(storage, self._use_count(storage)) for storage in storages]

    def free(self) -> bool:
        """Whether the caller has let go of every output this set lent (it may replay without harm)."""
        use_count = self._use_count
        for storage, own in self._lent:
            if use_count(storage) > own:
                return False
        return True


class CudaGraphModel(CompiledModel):
    """The compiled model: replays the captured graphs, runs the compiled module for what no graph serves.

    `compiled` is the torch.compile'd module the graphs were captured from.
    """

    def __init__(
        self,
        compiled: Any,
        sets: Sequence[GraphSet],
        describe: Callable[["CudaGraphModel"], CompileStats],
        *,
        module: Any = None,
        keep_alive: Sequence[Any] = (),
    ) -> None:
        self._keep_alive = tuple(keep_alive)
        by_size = sets[0].captured if sets else {}
        self._routes: Dict[Any, Tuple[_Replay, ...]] = {}
        """Per shape of input 0 a graph serves: each set's way to serve it."""
        for rows, size in batch_routes(list(by_size)).items():
            if rows == size or by_size[size].can_pad():
                replays = tuple(graph_set.replay_for(size, rows) for graph_set in sets)
                self._routes[replays[0].shapes[0]] = replays
        for graph_set in sets:
            graph_set.watch()
        self._arity = len(next(iter(by_size.values())).inputs) if by_size else None
        self._describe = describe
        self.ungraphed_calls = 0
        super().__init__(compiled, describe(self), module=module)

    def __call__(self, *inputs: Any) -> Any:
        replays = self._routes.get(inputs[0].shape) if len(inputs) == self._arity else None
        if replays is None:
            return self._run_ungraphed(inputs)
        for replay in replays:  # the last set is always free
            if replay.free():
                break
        if len(inputs) == 1:  # the usual case, kept short: each step costs on launch-bound models
            replay.copy_in(inputs[0])
        elif any(value.shape != shape for value, shape in zip(inputs[1:], replay.shapes[1:])):
            return self._run_ungraphed(inputs)  # input 0's shape chose the route, another's does not fit
        else:
            for buffer, value in zip(replay.inputs, inputs):
                buffer.copy_(value)
        replay.launch()
        replay.calls += 1
        replay.lend()
        return replay.output()

    def _run_ungraphed(self, inputs: Tuple[Any, ...]) -> Any:
        import torch

        self.ungraphed_calls += 1
        with torch.no_grad():
            return self._call(*inputs)

    @property
    def compiled(self) -> Any:
        return self._call

    @property
    def stats(self) -> CompileStats:
        return self._describe(self)

    def _calls(self, counted: Callable[[_Replay], bool]) -> int:
        return sum(r.calls for replays in self._routes.values() for r in replays if counted(r))

    @property
    def replays(self) -> int:
        return self._calls(lambda replay: True)

    @property
    def padded_calls(self) -> int:
        return self._calls(lambda replay: replay.padded)

    @property
    def copied_outputs(self) -> int:
        """Calls served by the copying set because the caller held outputs of every lending set."""
        return self._calls(lambda replay: replay.copies)

    @property
    def served_sizes(self) -> Tuple[int, ...]:
        """Batch sizes that replay a graph (captured, or padded up to a captured one)."""
        return tuple(sorted(shape[0] for shape in self._routes))


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
    compiled: Any,
    sets: Sequence[GraphSet],
    static_inputs: Dict[Tuple[int, int], Tuple[Any, ...]],
    sizes: Sequence[int],
    stream: Any,
    module_name: str,
    fallback: bool,
    failed: Dict[int, str],
) -> List[Any]:
    """Capture each size's graph in every set (one pool each); returns graphs to keep alive with the model.

    A size whose capture fails in any set raises CaptureError, or with `fallback` is recorded in
    `failed` and served by no set.
    """
    import torch

    keep_alive: List[Any] = []
    pools = [torch.cuda.graph_pool_handle() for _ in sets]
    for size in sizes:
        graphs: List[Tuple[Any, Any]] = []
        try:
            for index in range(len(sets)):
                graphs.append(_capture_one(compiled, static_inputs[index, size], pools[index], stream))
        except Exception as error:  # raised as CaptureError, or recorded when fallback=True
            keep_alive.extend(graph for graph, _ in graphs)
            keep_alive.append(_end_failed_capture(stream))
            reason = _capture_failure_reason(error)
            if not fallback:
                raise CaptureError(module_name, size, reason) from error
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


class CudaGraphBackend(HfLlmBackend):
    """Inductor, then manual CUDA graph capture per batch size (see the module docstring)."""

    name = NAME

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

    def _capture(
        self, compiled, module, example_inputs, sizes, compile_metrics, details, *, fallback, return_views, failed
    ) -> CudaGraphModel:
        import torch

        stream = torch.cuda.Stream()
        sets = [GraphSet(mode) for mode in ((VIEWS,) if return_views else (LENT,) * LENDING_SETS + (COPIED,))]
        to_capture = [size for size in sorted(sizes, reverse=True) if size not in failed]
        start = time.perf_counter()
        static_inputs = {
            (index, size): resize_batch(example_inputs, size) for index in range(len(sets)) for size in to_capture
        }
        stream.wait_stream(torch.cuda.current_stream())
        with torch.no_grad(), torch.cuda.stream(stream):
            for size in to_capture:
                for _ in range(WARMUP_CALLS):
                    compiled(*static_inputs[0, size])
        torch.cuda.synchronize()
        with _workspaces_in_graph_pools():
            torch.cuda.empty_cache()  # after the workspaces were freed: the pools' growth is what follows
            reserved_before = torch.cuda.memory_reserved()
            allocated_before = torch.cuda.memory_allocated()
            keep_alive = _capture_sets(
                compiled, sets, static_inputs, to_capture, stream, type(module).__name__, fallback, failed
            )
        torch.cuda.synchronize()
        capture_s = time.perf_counter() - start
        pool_bytes = torch.cuda.memory_reserved() - reserved_before
        pool_allocated = torch.cuda.memory_allocated() - allocated_before
        captured_sizes = sorted(sets[0].captured)
        fixed_metrics = compile_metrics + (
            StatMetric("capture_s", capture_s, "s", kind="duration"),
            StatMetric("graphs_captured", len(captured_sizes) * len(sets), "count", better="higher"),
            StatMetric("capture_fallbacks", len(failed), "count"),
            StatMetric("graph_pool_bytes", pool_bytes, "B", kind="memory"),
        )
        fixed_details = {
            "backend": NAME,
            **details,
            "batch_sizes": list(sizes),
            "captured": captured_sizes,
            "fallback": dict(sorted(failed.items())),
            "outputs": OUTPUTS_VIEWS if return_views else OUTPUTS_LENT_OR_COPIED,
            "graph_sets": [graph_set.mode for graph_set in sets],
            "graph_pool_allocated_bytes": pool_allocated,
            "warmup_calls": WARMUP_CALLS,
        }

        def describe(model: CudaGraphModel) -> CompileStats:
            return CompileStats(
                metrics=fixed_metrics
                + (
                    StatMetric("replays", model.replays, "count", better="higher"),
                    StatMetric("padded_calls", model.padded_calls, "count"),
                    StatMetric("copied_outputs", model.copied_outputs, "count"),
                    StatMetric("ungraphed_calls", model.ungraphed_calls, "count"),
                ),
                details={**fixed_details, "served_sizes": list(model.served_sizes)},
            )

        return CudaGraphModel(compiled, sets, describe, module=module, keep_alive=keep_alive)
