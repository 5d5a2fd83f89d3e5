"""Compile caches of a run: fresh and private by default, so every run compiles cold.

Inductor, Triton and vLLM keep compiled artifacts on disk across processes. A run that finds them warm
compiles in a fraction of the time and skips the autotuning that allocates GPU memory, so its
`compile_s`, `capture_s` and memory would depend on what ran before on the machine (another backend's
tests, yesterday's job). `fresh` points the three caches at an empty folder of this process, removed at
the end; `keep` leaves the environment as it is (the user's own cache folders, warm builds).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, MutableMapping

MODES = ("fresh", "keep")
CACHE_VARIABLES = {"TORCHINDUCTOR_CACHE_DIR": "inductor", "TRITON_CACHE_DIR": "triton", "VLLM_CACHE_ROOT": "vllm"}
"""The environment variables naming each compiler's cache folder, and the subfolder each gets."""


def point_caches_at(folder: Path, environ: MutableMapping[str, str]) -> None:
    """Set every compiler's cache variable in `environ` to its own subfolder of `folder`."""
    for variable, name in CACHE_VARIABLES.items():
        environ[variable] = str(folder / name)


def use_fresh_caches(environ: MutableMapping[str, str]) -> Callable[[], None]:
    """Point the caches at a new empty folder (before anything compiles). Returns what undoes it: the
    variables' earlier values back, the folder removed."""
    earlier = {variable: environ.get(variable) for variable in CACHE_VARIABLES}
    folder = Path(tempfile.mkdtemp(prefix="aotperf-compile-cache-"))
    point_caches_at(folder, environ)

    def undo() -> None:
        for variable, value in earlier.items():
            if value is None:
                environ.pop(variable, None)
            else:
                environ[variable] = value
        shutil.rmtree(folder)

    return undo
