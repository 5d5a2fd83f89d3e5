"""A test's stored entry: its metrics and the environment they were measured in. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping

from ..metrics import Metric
from ..schema import field, require_object


@dataclass(frozen=True)
class BaselineEntry:
    """A test's stored metrics (`Metric.stored()` forms, by name) and where they were measured."""

    metrics: Mapping[str, Metric]
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
    def from_json(cls, data: Any, where: str) -> BaselineEntry:
        data = require_object(data, where)
        metrics = field(data, "metrics", dict, where)
        return cls(
            metrics={name: Metric.from_json(name, m, f"{where}.metrics.{name}") for name, m in metrics.items()},
            environment=field(data, "environment", dict, where, {}),
            config=field(data, "config", dict, where, {}),
        )
