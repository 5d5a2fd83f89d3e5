"""What vLLM logs at engine start and offers no object for: CUDA-graph capture time and memory, whether the
compile cache served the build, failure causes.

Log wording is not an API; every pattern here is tested against lines of each supported release
(tests/test_vllm_options.py).
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence, Tuple

from ..metrics import GraphCapture

GIB = 1 << 30
CAPTURE_LINE = re.compile(r"Graph capturing finished in (?P<secs>[\d.]+) secs?, took (?P<gib>-?[\d.]+) GiB")
"""vLLM 0.26 and 0.32, gpu_model_runner.capture_model (seconds are rounded to whole seconds)."""
COMPILE_CACHE_LINE = re.compile(
    r"(?:Directly load (?:the compiled graph\(s\)|AOT compilation)|saved AOT compiled function to"
    r"|Compiling model again due to a load failure).*"
)
"""vLLM 0.26 and 0.32, compilation/backends.py and decorators.py: graphs loaded from the cache (a warm build), an
AOT-compiled function saved (a cold one), or a cache entry that failed to load."""
CACHE_FOLDER = re.compile(r"\S*/(?=torch_compile_cache/)")
ERROR_LINE = re.compile(r"\b(?:\w+Error|\w*Exception|EngineDeadError)\b: .+")


def graph_capture(lines: Iterable[str]) -> Optional[GraphCapture]:
    """The last 'Graph capturing finished' report in `lines`, or None when the engine captured no graphs."""
    found = None
    for line in lines:
        match = CAPTURE_LINE.search(line)
        if match:
            found = GraphCapture(seconds=float(match["secs"]), memory_bytes=float(match["gib"]) * GIB)
    return found


def compile_cache_log(lines: Iterable[str]) -> Tuple[str, ...]:
    """The lines that say how the compile cache served the build, each from its message on, cache folders
    shown from `torch_compile_cache/` on (the cache root differs between machines)."""
    found = (COMPILE_CACHE_LINE.search(line) for line in lines)
    return tuple(CACHE_FOLDER.sub(".../", match.group(0).strip()) for match in found if match)


def failure_cause(lines: Sequence[str]) -> Optional[str]:
    """The last exception line the engine's processes logged ("ValueError: ..."), or None."""
    for line in reversed(lines):
        match = ERROR_LINE.search(line)
        if match:
            return match.group(0).strip()
    return None
