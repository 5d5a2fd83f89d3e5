"""What torch.compile has produced in this process: graphs and graph breaks, read around compiles and timed samples."""

from __future__ import annotations

import sys


def compiled_graph_count() -> int:
    """Graphs torch.compile has produced in this process (0 if dynamo was never loaded)."""
    if "torch._dynamo" not in sys.modules:
        return 0
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def graph_break_count() -> int:
    """Graph breaks torch.compile has met in this process, over every reason (0 if dynamo was never loaded)."""
    if "torch._dynamo" not in sys.modules:
        return 0
    from torch._dynamo.utils import counters

    return sum(int(count) for count in counters["graph_break"].values())


def captured_call_count() -> int:
    """Calls (FX `call_*` nodes) torch.compile has captured into graphs in this process (0 without dynamo)."""
    if "torch._dynamo" not in sys.modules:
        return 0
    from torch._dynamo.utils import counters

    return int(counters["stats"]["calls_captured"])


def inductor_kernel_count() -> int:
    """Kernels Inductor has generated in this process (Triton or C++; calls into extern kernels such as mm are not)."""
    if "torch._inductor" not in sys.modules:
        return 0
    from torch._inductor import metrics

    return int(metrics.generated_kernel_count)
