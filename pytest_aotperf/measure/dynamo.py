"""How many graphs torch.compile has produced: read around compiles and timed samples."""

from __future__ import annotations

import sys


def compiled_graph_count() -> int:
    """Graphs torch.compile has produced in this process (0 if dynamo was never loaded)."""
    if "torch._dynamo" not in sys.modules:
        return 0
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])
