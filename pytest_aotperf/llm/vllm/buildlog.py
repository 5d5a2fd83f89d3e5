"""What vLLM logs at engine start and offers no object for: CUDA-graph capture time and memory, failure causes.

Log wording is not an API; every pattern here is tested against lines of each supported release
(tests/test_vllm_options.py).
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

from ..metrics import GraphCapture

GIB = 1 << 30
CAPTURE_LINE = re.compile(r"Graph capturing finished in (?P<secs>[\d.]+) secs?, took (?P<gib>-?[\d.]+) GiB")
"""vLLM 0.26 and 0.32, gpu_model_runner.capture_model (seconds are rounded to whole seconds)."""
ERROR_LINE = re.compile(r"\b(?:\w+Error|\w*Exception|EngineDeadError)\b: .+")


def graph_capture(lines: Iterable[str]) -> Optional[GraphCapture]:
    """The last 'Graph capturing finished' report in `lines`, or None when the engine captured no graphs."""
    found = None
    for line in lines:
        match = CAPTURE_LINE.search(line)
        if match:
            found = GraphCapture(seconds=float(match["secs"]), memory_bytes=float(match["gib"]) * GIB)
    return found


def failure_cause(lines: Sequence[str]) -> Optional[str]:
    """The last exception line the engine's processes logged ("ValueError: ..."), or None."""
    for line in reversed(lines):
        match = ERROR_LINE.search(line)
        if match:
            return match.group(0).strip()
    return None
