"""`inductor`: torch.compile with the Inductor backend, compiled cold for every batch size up front."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Optional, Sequence, Tuple

from ..compiled import CompiledModel, CompileStats, stat
from ..graphs.inputs import resize_batch
from ..measure.dynamo import (
    captured_call_count,
    compiled_graph_count,
    compiling,
    graph_break_count,
    inductor_kernel_count,
)
from ..metrics import Metric
from .torch_module import TorchModuleBackend


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def compile_for_batch_sizes(
    compiled: Callable[..., Any], example_inputs: Sequence[Any], batch_sizes: Iterable[int], device: str
) -> Tuple[Metric, ...]:
    """Call `compiled` once per batch size, so that compilation happens here and is timed.

    Runs in a fresh Inductor cache, so that compile time is a cold compile in every run and comparable with its
    baseline; without dynamo's per-code-object recompile limit, so that a module compiled after many others is
    still compiled; once Inductor's compile workers are up and with garbage collection paused, so that its memory
    peak does not depend on when they started or when gc ran. Returns `compile_s` and the exact counts `graphs`,
    `graph_breaks`, `fx_calls` (operations captured into the graphs) and `inductor_kernels` (kernels generated).
    """
    import torch
    from torch._inductor.utils import fresh_cache

    counts = (compiled_graph_count, graph_break_count, captured_call_count, inductor_kernel_count)
    before = [count() for count in counts]
    with compiling():
        start = time.perf_counter()
        with fresh_cache(), torch.no_grad():
            for batch_size in batch_sizes:
                compiled(*resize_batch(example_inputs, batch_size))
            synchronize(device)
        seconds = time.perf_counter() - start
    graphs, breaks, fx_calls, kernels = (count() - earlier for count, earlier in zip(counts, before))
    return (
        stat("compile_s", seconds, "s", kind="duration"),
        stat("graphs", graphs, "count", kind="count"),
        stat("graph_breaks", breaks, "count", kind="count"),
        stat("fx_calls", fx_calls, "count", kind="count"),
        stat("inductor_kernels", kernels, "count", kind="count"),
    )


class InductorBackend(TorchModuleBackend):
    name = "inductor"

    def compile(
        self,
        module: Any,
        example_inputs: Sequence[Any],
        batch_sizes: Sequence[int],
        mode: Optional[str] = None,
        dynamic: Optional[bool] = False,
        **options: Any,
    ) -> CompiledModel:
        import torch

        compiled = torch.compile(module, mode=mode, dynamic=dynamic, options=options or None)
        stats = CompileStats(
            metrics=compile_for_batch_sizes(compiled, example_inputs, batch_sizes, self.device),
            details={"backend": "inductor", "mode": mode, "dynamic": dynamic, "batch_sizes": list(batch_sizes)},
        )
        return CompiledModel(compiled, stats)
