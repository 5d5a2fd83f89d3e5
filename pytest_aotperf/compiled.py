"""A compiled module and what compiling it cost: what every backend's `compile` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Tuple

from .metrics import Better, Kind, Metric


def stat(
    name: str, value: float, unit: str, kind: Kind = "value", better: Better = "lower", informational: bool = False
) -> Metric:
    """A compile statistic (`compile_s`, `graphs`, `capture_s`, ...) as the metric the test records."""
    return Metric(name=name, unit=unit, better=better, kind=kind, value=float(value), informational=informational)


@dataclass(frozen=True)
class CompileStats:
    """What compiling cost and produced. `metrics` are recorded on the test's recorder."""

    metrics: Tuple[Metric, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> Optional[float]:
        return next((m.value for m in self.metrics if m.name == name), None)


class CompiledModel:
    """A compiled module, callable like the module, with its compile statistics."""

    def __init__(self, call: Callable[..., Any], stats: CompileStats) -> None:
        self._call = call
        self._stats = stats

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    @property
    def stats(self) -> CompileStats:
        """Statistics now (a backend with run-time counters, such as replays, adds them here)."""
        return self._stats
