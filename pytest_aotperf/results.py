"""Immutable value objects for what a test measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Literal, Optional, Protocol, Sequence, Tuple

Better = Literal["lower", "higher"]
Kind = Literal["timing", "duration", "memory", "value"]
"""timing: sampled latency; duration: one-shot time (compile, capture); memory: bytes; value: anything else."""

BETTER_VALUES = ("lower", "higher")
KIND_VALUES = ("timing", "duration", "memory", "value")


@dataclass(frozen=True)
class Summary:
    """Summary statistics of a sample set (as torch.utils.benchmark's Measurement derives them)."""

    n: int
    min: float
    median: float
    mean: float
    stddev: float
    iqr: float
    p90: float
    p99: float


@dataclass(frozen=True)
class Metric:
    """One measured quantity of one test, or the reason it could not be measured.

    `value` is the representative number (the median for sampled metrics) in SI units:
    seconds for time, bytes for memory. `value is None` exactly when `unavailable` says why.
    """

    name: str
    unit: str
    better: Better
    kind: Kind
    value: Optional[float] = None
    samples: Tuple[float, ...] = ()
    summary: Optional[Summary] = None
    unavailable: Optional[str] = None
    flags: Tuple[str, ...] = ()
    context: Tuple[Tuple[str, object], ...] = field(default=())
    """Extra facts stored with the metric (clock readings, probe source), as sorted pairs."""

    def __post_init__(self) -> None:
        if self.better not in BETTER_VALUES:
            raise ValueError(f"metric {self.name!r}: better must be one of {BETTER_VALUES}, not {self.better!r}")
        if self.kind not in KIND_VALUES:
            raise ValueError(f"metric {self.name!r}: kind must be one of {KIND_VALUES}, not {self.kind!r}")
        if (self.value is None) == (self.unavailable is None):
            raise ValueError(f"metric {self.name!r}: give a value or the reason it is unavailable, not both or neither")

    @property
    def available(self) -> bool:
        return self.unavailable is None

    @classmethod
    def from_samples(
        cls,
        name: str,
        samples: Sequence[float],
        unit: str = "s",
        better: Better = "lower",
        kind: Kind = "timing",
        flags: Tuple[str, ...] = (),
        context: Tuple[Tuple[str, object], ...] = (),
    ) -> "Metric":
        """A sampled metric: its value is the samples' median, its summary their statistics."""
        from .measure.stats import summarize

        values = tuple(float(s) for s in samples)
        summary = summarize(values)
        return cls(
            name=name,
            unit=unit,
            better=better,
            kind=kind,
            value=summary.median,
            samples=values,
            summary=summary,
            flags=flags,
            context=context,
        )


class Measured(Protocol):
    """What a Metric and a stored baseline metric both hold."""

    unit: str
    better: str
    kind: str
    value: Optional[float]
    samples: Tuple[float, ...]
    summary: Optional[Summary]
    unavailable: Optional[str]
    flags: Tuple[str, ...]


def measurement_json(measured: Measured) -> Dict[str, Any]:
    """The JSON a Metric and a stored baseline metric share: unit, direction and kind, then either
    why it is unavailable, or its value, statistics, samples and flags."""
    data: Dict[str, Any] = {"unit": measured.unit, "better": measured.better, "kind": measured.kind}
    if measured.unavailable is not None:
        data["unavailable"] = measured.unavailable
        return data
    data["value"] = measured.value
    if measured.summary is not None:
        data["summary"] = vars(measured.summary).copy()
        data["samples"] = list(measured.samples)
    if measured.flags:
        data["flags"] = list(measured.flags)
    return data
