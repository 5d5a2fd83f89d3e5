"""The stored form of a metric and of a test's entry, and their JSON (de)serialisation. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from ..measure.stats import thin
from ..results import BETTER_VALUES, KIND_VALUES, Metric, Summary, measurement_json

SIGNIFICANT_DIGITS = 6
MAX_RUNS = 20
"""Run values kept per metric for the run-to-run spread (the newest)."""


class SchemaError(ValueError):
    """Stored data that is not of the expected schema; the message says where and what."""


def rounded(value: float) -> float:
    """Values are stored to 6 significant digits: more is noise, and files stay readable."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(value) else value


@dataclass(frozen=True)
class StoredMetric:
    unit: str
    better: str
    kind: str
    value: Optional[float]
    samples: Tuple[float, ...] = ()
    summary: Optional[Summary] = None
    runs: Tuple[float, ...] = ()
    """The representative value of each recorded run (`aotperf refresh --runs N`)."""
    unavailable: Optional[str] = None
    flags: Tuple[str, ...] = ()

    @classmethod
    def from_metric(cls, metric: Metric, runs: Tuple[float, ...] = ()) -> "StoredMetric":
        samples = tuple(rounded(s) for s in thin(metric.samples)) if metric.samples else ()
        summary = _rounded_summary(metric.summary) if metric.summary is not None else None
        value = rounded(metric.value) if metric.value is not None else None
        if value is not None and not runs:
            runs = (value,)
        return cls(
            unit=metric.unit,
            better=metric.better,
            kind=metric.kind,
            value=value,
            samples=samples,
            summary=summary,
            runs=tuple(rounded(r) for r in runs[-MAX_RUNS:]),
            unavailable=metric.unavailable,
            flags=metric.flags,
        )

    def to_json(self) -> Dict[str, Any]:
        data = measurement_json(self)
        if self.unavailable is None:
            data["runs"] = list(self.runs)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> "StoredMetric":
        _require_object(data, where)
        unit = _field(data, "unit", str, where)
        better = _choice(data, "better", BETTER_VALUES, where)
        kind = _choice(data, "kind", KIND_VALUES, where)
        if "unavailable" in data:
            return cls(
                unit=unit, better=better, kind=kind, value=None, unavailable=_field(data, "unavailable", str, where)
            )
        value = _number(data.get("value"), f"{where}.value")
        samples = tuple(
            _number(s, f"{where}.samples[{i}]") for i, s in enumerate(_field(data, "samples", list, where, []))
        )
        summary = None
        if "summary" in data:
            raw = _field(data, "summary", dict, where)
            try:
                summary = Summary(**{k: (int if k == "n" else float)(raw[k]) for k in Summary.__dataclass_fields__})
            except (KeyError, TypeError, ValueError) as error:
                raise SchemaError(
                    f"{where}.summary: needs numbers n, min, median, mean, stddev, iqr, p90, p99 ({error})"
                ) from None
        runs = tuple(_number(r, f"{where}.runs[{i}]") for i, r in enumerate(_field(data, "runs", list, where, [])))
        flags = tuple(_field(data, "flags", list, where, []))
        return cls(
            unit=unit, better=better, kind=kind, value=value, samples=samples, summary=summary, runs=runs, flags=flags
        )


@dataclass(frozen=True)
class BaselineEntry:
    """A test's stored metrics and the environment they were measured in."""

    metrics: Mapping[str, StoredMetric]
    environment: Mapping[str, Any]
    config: Mapping[str, Any]

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "environment": dict(self.environment),
            "metrics": {name: m.to_json() for name, m in self.metrics.items()},
        }
        if self.config:
            data["config"] = dict(self.config)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> "BaselineEntry":
        _require_object(data, where)
        metrics = _field(data, "metrics", dict, where)
        return cls(
            metrics={name: StoredMetric.from_json(m, f"{where}.metrics.{name}") for name, m in metrics.items()},
            environment=_field(data, "environment", dict, where, {}),
            config=_field(data, "config", dict, where, {}),
        )


def _rounded_summary(summary: Summary) -> Summary:
    return Summary(**{k: (v if k == "n" else rounded(v)) for k, v in vars(summary).items()})


def _require_object(data: Any, where: str) -> None:
    if not isinstance(data, Mapping):
        raise SchemaError(f"{where}: expected an object, found {type(data).__name__}")


def _field(data: Mapping, key: str, kind: type, where: str, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise SchemaError(f"{where}: missing field {key!r}")
        return default
    value = data[key]
    if not isinstance(value, kind):
        raise SchemaError(f"{where}.{key}: expected {kind.__name__}, found {type(value).__name__}")
    return value


def _choice(data: Mapping, key: str, allowed: Tuple[str, ...], where: str) -> str:
    value = _field(data, key, str, where)
    if value not in allowed:
        raise SchemaError(f"{where}.{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{where}: expected a number, found {value!r}")
    return float(value)
