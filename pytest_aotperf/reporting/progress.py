"""Progress lines for long steps (compilation, engine builds, graph capture); silent under -q."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator, Optional

import pytest


@contextmanager
def progress_step(config: Optional[pytest.Config], text: str) -> Iterator[None]:
    """Print `aotperf: TEXT ...` before the step and its duration after it (verbosity >= 0 only).

    `config` may be None (a backend used outside pytest): then nothing is printed.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    if config is None or reporter is None or config.get_verbosity() < 0:
        yield
        return
    _write(config, reporter, f"aotperf: {text} ...")
    start = time.perf_counter()
    yield
    _write(config, reporter, f"aotperf: {text}: done in {time.perf_counter() - start:.1f} s")


def _write(config: pytest.Config, reporter: pytest.TerminalReporter, line: str) -> None:
    """Write around output capturing, as pytest's live logging does."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)
