"""`cudagraph`: Inductor without its own CUDA graphs, then CUDA graphs per batch size, replayed.

Compiling runs torch.compile (cold, timed, one Inductor graph per batch size), then captures
`torch.cuda.CUDAGraph`s per batch size (graphs.capture) and replays them, routing each call on
its batch size and lending outputs without copies where it is safe (graphs.replay).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

from ..graphs.capture import (
    CaptureError,
    CaptureRequest,
    capture_compiled,
    capture_model,
    check_batch_sizes,
    check_inputs,
    compile_kwargs_without_cudagraphs,
    non_cuda_tensor,
)
from ..graphs.replay import CudaGraphModel, graph_set_modes
from .base import BackendUnsupported
from .inductor import compile_for_batch_sizes
from .torch_module import TorchModuleBackend

NAME = "cudagraph"
DEFAULT_BATCH_SIZES = (1, 2, 4, 8)
NO_CUDA_FOR_GRAPHS = "CUDA graphs need a CUDA device; torch.cuda.is_available() is False"


class CudaGraphBackend(TorchModuleBackend):
    """Inductor, then manual CUDA graph capture per batch size (see the module docstring)."""

    name = NAME

    def default_batch_sizes(self, example_inputs: Sequence[Any]) -> Tuple[int, ...]:
        return DEFAULT_BATCH_SIZES

    def unavailable_reason(self) -> Optional[str]:
        import torch

        return None if torch.cuda.is_available() else NO_CUDA_FOR_GRAPHS

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

        sizes = check_batch_sizes(batch_sizes, DEFAULT_BATCH_SIZES)
        check_inputs(example_inputs)
        kwargs = compile_kwargs_without_cudagraphs(mode, inductor_options)
        self._require_cuda()
        module_name = type(module).__name__
        unreplayable = non_cuda_tensor(module, example_inputs)
        if unreplayable is not None and not fallback:
            raise CaptureError(module_name, sizes[-1], unreplayable)
        compiled = torch.compile(module, dynamic=False, **kwargs)
        compile_metrics = compile_for_batch_sizes(compiled, example_inputs, sizes, "cuda")
        details = {"mode": mode, "inductor_options": dict(inductor_options)}
        failed = {size: unreplayable for size in sizes} if unreplayable is not None else {}
        request = CaptureRequest(
            compiled, module_name, tuple(example_inputs), sizes, graph_set_modes(return_views), fallback, failed
        )
        return capture_model(request, compile_metrics, {"backend": NAME, **details})

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
        sizes = check_batch_sizes(batch_sizes, DEFAULT_BATCH_SIZES)
        self._require_cuda()
        details = {
            "backend": NAME,
            "compiled": "elsewhere: compile_s, graphs and graph_breaks not measured by this backend",
        }
        return capture_compiled(
            compiled,
            type(module).__name__,
            example_inputs,
            sizes,
            details,
            fallback=fallback,
            return_views=return_views,
        )

    def _require_cuda(self) -> None:
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnsupported(reason)
