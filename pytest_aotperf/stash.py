"""Keys for the state aotperf keeps on pytest's config and items."""

from __future__ import annotations

import pytest

from .gpus import Assignment
from .marks import MarkerSpec
from .recorder import PerfRecorder
from .session import AotPerfSession

SESSION_KEY = pytest.StashKey[AotPerfSession]()
RECORDER_KEY = pytest.StashKey[PerfRecorder]()
SPEC_KEY = pytest.StashKey[MarkerSpec]()
GPU_KEY = pytest.StashKey[Assignment]()
"""The GPU this process was given as an xdist worker (see gpus.py)."""


def session_of(config: pytest.Config) -> AotPerfSession:
    return config.stash[SESSION_KEY]
