"""What torch.compile has produced in this process: graphs, graph breaks, captured calls and generated kernels,
read around compiles and timed samples. Each is 0 until torch.compile has been loaded. And the conditions our
compiles run under: the recompile limit, Inductor's compile workers and the garbage collector."""

from __future__ import annotations

import contextlib
import gc
import sys
from typing import Any, ContextManager, Iterator, Mapping


def _dynamo_counters() -> Mapping[str, Mapping[str, Any]]:
    if "torch._dynamo" not in sys.modules:
        return {}
    from torch._dynamo.utils import counters

    return counters


def compiled_graph_count() -> int:
    """Graphs torch.compile has produced in this process."""
    return int(_dynamo_counters().get("stats", {}).get("unique_graphs", 0))


def graph_break_count() -> int:
    """Graph breaks torch.compile has met in this process, over every reason."""
    return sum(int(count) for count in _dynamo_counters().get("graph_break", {}).values())


def captured_call_count() -> int:
    """Calls (FX `call_*` nodes) torch.compile has captured into graphs in this process."""
    return int(_dynamo_counters().get("stats", {}).get("calls_captured", 0))


def inductor_kernel_count() -> int:
    """Kernels Inductor has generated in this process (Triton or C++; calls into extern kernels such as mm are not)."""
    if "torch._inductor" not in sys.modules:
        return 0
    from torch._inductor import metrics

    return int(metrics.generated_kernel_count)


def without_per_code_recompile_limit() -> ContextManager[Any]:
    """Dynamo's config with `recompile_limit` lifted to its global cap (`accumulated_recompile_limit`).

    Every module torch.compile wraps, and every shape of one step function, shares one code object, whose
    graphs dynamo caps at `recompile_limit` (8): past it, a later test's module would silently run uncompiled.
    """
    import torch

    config = torch._dynamo.config
    limit = max(config.recompile_limit, config.accumulated_recompile_limit)
    patched: ContextManager[Any] = config.patch(recompile_limit=limit)
    return patched


def wait_for_compile_workers(timeout_s: float = 300) -> None:
    """Start Inductor's compile workers, if they are not up, and wait until they are.

    Until they are, Inductor compiles kernels in the calling process (`AsyncCompile.use_process_pool`), so a
    compile's host memory and time would depend on how fast the workers started; without this wait the first
    compile of a process ran without them.
    """
    from torch._inductor.async_compile import AsyncCompile

    AsyncCompile.wait_pool_ready(timeout=timeout_s)


@contextlib.contextmanager
def garbage_collected_after() -> Iterator[None]:
    """Python's automatic garbage collection paused for the block, then one full collection after it.

    A compile makes cyclic garbage (dynamo's and Inductor's graphs and code). Left to the collector's allocation
    counters, a collection fell inside the compile or after it depending on unrelated code, so the compile's
    memory peak did too (on CPU, two commits 1.2 MiB apart read within 0.1 MiB once paused). Paused, every run
    holds all of it at the peak.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()


@contextlib.contextmanager
def compiling() -> Iterator[None]:
    """The conditions every compile the plugin times runs under (time it inside the block: the collection
    after it is not the compile's): Inductor's compile workers up, garbage collection paused, and no
    per-code-object recompile limit."""
    wait_for_compile_workers()
    with garbage_collected_after(), without_per_code_recompile_limit():
        yield
