"""One engine at a time per backend: tests with the same model and options share it, and its build's memory."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Callable, Mapping, Optional, Tuple

from ..memory_monitor import MemoryMonitor, absolute_of
from ..metrics import Metric

BUILD_PREFIX = "build_"


def cache_key(model: str, options: Mapping[str, Any]) -> str:
    """Equal for requests that can share one engine: same model, same options."""
    return json.dumps({"model": model, "options": options}, sort_keys=True, default=repr)


class EngineCache:
    """Holds at most one engine: same model and options share it, another request replaces it.

    `build(model, options)` makes an engine (anything with a `shutdown()`): a vLLM engine, or the
    other backends' `transformers` model. `memory()` makes the monitor its build's memory is read
    with: `build_memory` holds those readings (`build_` metrics) for every test that uses the engine,
    so a test reads the same whether it built the engine or was handed it.
    """

    def __init__(
        self, build: Callable[[str, Mapping[str, Any]], Any], memory: Optional[Callable[[], MemoryMonitor]] = None
    ) -> None:
        self._build = build
        self._memory = memory
        self._key: Optional[str] = None
        self._engine: Any = None
        self.builds = 0
        self.build_memory: Tuple[Metric, ...] = ()

    def get(self, model: str, options: Mapping[str, Any]) -> tuple[Any, bool]:
        """The engine for `model` and `options`, and whether this call built it."""
        key = cache_key(model, options)
        if self._engine is not None and key == self._key:
            return self._engine, False
        self.close()
        monitor = self._memory() if self._memory is not None else None
        if monitor is not None:
            monitor.start()
        self._engine = self._build(model, options)
        self.build_memory = build_memory_metrics(monitor.finish()) if monitor is not None else ()
        self._key = key
        self.builds += 1
        return self._engine, True

    def close(self) -> None:
        engine, self._engine, self._key, self.build_memory = self._engine, None, None, ()
        if engine is not None:
            engine.shutdown()


def build_memory_metrics(readings: Tuple[Metric, ...]) -> Tuple[Metric, ...]:
    """A build's own memory peaks as `build_<name>` (`build_gpu_peak_allocated`); the absolute ones are left out."""
    return tuple(
        dataclasses.replace(metric, name=BUILD_PREFIX + metric.name)
        for metric in readings
        if absolute_of(metric.name) is None
    )
