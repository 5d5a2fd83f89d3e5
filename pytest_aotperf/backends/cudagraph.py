"""`cudagraph`: Inductor without its own CUDA graphs, then CUDA graphs per batch size, replayed.

Compiling runs torch.compile (cold, timed, one Inductor graph per batch size), then captures
`torch.cuda.CUDAGraph`s per batch size (cudagraph_capture) and replays them, routing each call on
its batch size and lending outputs without copies where it is safe (cudagraph_replay).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ..metrics import Metric
from .base import Backend, BackendUnsupported, CompileStats, stat
from .cudagraph_capture import WARMUP_CALLS, CaptureError, CaptureRequest, capture_graphs, non_cuda_tensor
from .cudagraph_replay import (
    OUTPUTS_LENT_OR_COPIED,
    OUTPUTS_VIEWS,
    VIEWS,
    CudaGraphModel,
    graph_set_modes,
)
from .inductor import compile_for_batch_sizes

NAME = "cudagraph"
DEFAULT_BATCH_SIZES = (1, 2, 4, 8)
NO_CUDA_REASON = "CUDA graphs need a CUDA device; torch.cuda.is_available() is False"
MODES_WITHOUT_CUDAGRAPHS = (None, "default", "max-autotune-no-cudagraphs")


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


class CudaGraphBackend(Backend):
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
        unreplayable = non_cuda_tensor(module, example_inputs)
        if unreplayable is not None and not fallback:
            raise CaptureError(module_name, sizes[-1], unreplayable)
        compiled = torch.compile(module, dynamic=False, **kwargs)
        # Every batch size is compiled, however many graphs other modules sharing this forward's code
        # already hold: only dynamo's global cap (accumulated_recompile_limit) bounds it here.
        limit = max(torch._dynamo.config.recompile_limit, torch._dynamo.config.accumulated_recompile_limit)
        with torch._dynamo.config.patch(recompile_limit=limit):
            compile_metrics = compile_for_batch_sizes(compiled, example_inputs, sizes, "cuda")
        details = {"mode": mode, "inductor_options": dict(inductor_options)}
        failed = {size: unreplayable for size in sizes} if unreplayable is not None else {}
        request = CaptureRequest(
            compiled, module_name, tuple(example_inputs), sizes, graph_set_modes(return_views), fallback, failed
        )
        return self._capture(request, compile_metrics, details)

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
        details = {"compiled": "elsewhere: compile_s, graphs and graph_breaks not measured by this backend"}
        request = CaptureRequest(
            compiled, type(module).__name__, tuple(example_inputs), sizes, graph_set_modes(return_views), fallback
        )
        return self._capture(request, (), details)

    def _require_cuda(self) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnsupported(reason)

    def _capture(
        self, request: CaptureRequest, compile_metrics: Tuple[Metric, ...], details: Mapping[str, Any]
    ) -> CudaGraphModel:
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
                "backend": NAME,
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
