"""The `aotperf` marker: per-test tolerances, absolute limits and backend restriction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

import pytest

from .backends import KNOWN_BACKENDS
from .host_speed import HOST_RULES, HostRule
from .units import BYTE_UNITS, TIME_UNITS, parse_percent, split_quantity

MARKER = "aotperf"
MARKER_HELP = (
    f"{MARKER}(tolerance=None, metrics=None, limits=None, backends=None, llm_options=None, host_timings=None): "
    "per-test tolerance ('5%'), per-metric tolerances ({'latency': '5%'}), absolute limits "
    "({'latency': '2 ms', 'host_peak_rss': '1.5 GiB'}), the backends the test runs on, "
    "options passed to aot_llm, and how host-speed timings are judged ('spread' or 'tolerance')"
)
ACCEPTED = ("tolerance", "metrics", "limits", "backends", "llm_options", "host_timings")


@dataclass(frozen=True)
class MarkerSpec:
    tolerance: Optional[float] = None
    metric_tolerances: Mapping[str, float] = field(default_factory=dict)
    limits: Mapping[str, Any] = field(default_factory=dict)
    """Raw limit texts by metric; read in the metric's own unit once it is measured."""
    backends: Optional[Tuple[str, ...]] = None
    llm_options: Mapping[str, Any] = field(default_factory=dict)
    host_timings: Optional[HostRule] = None
    """The test's rule for host-speed timings, over --aot-host-timings."""

    def tolerance_for(self, metric: str, default: float) -> float:
        if metric in self.metric_tolerances:
            return self.metric_tolerances[metric]
        return self.tolerance if self.tolerance is not None else default


def marker_spec(item: pytest.Item) -> MarkerSpec:
    """The merged `aotperf` markers of `item` (closest first); errors name the test and say what is accepted."""
    merged: Dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers(MARKER))):
        if mark.args:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} takes keyword arguments only")
        merged.update(mark.kwargs)
    try:
        return _parse(merged)
    except (TypeError, ValueError) as error:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}: {error}") from None


def _parse(kwargs: Mapping[str, Any]) -> MarkerSpec:
    unknown = set(kwargs) - set(ACCEPTED)
    if unknown:
        raise TypeError(f"unknown argument(s) {', '.join(sorted(unknown))}; accepted: {', '.join(ACCEPTED)}")
    tolerance = parse_percent(kwargs["tolerance"]) if kwargs.get("tolerance") is not None else None
    metrics = _mapping(kwargs, "metrics")
    limits = _mapping(kwargs, "limits")
    for name, text in limits.items():
        _check_limit(name, text)
    backends = kwargs.get("backends")
    if backends is not None:
        backends = (backends,) if isinstance(backends, str) else tuple(backends)
        unknown_backends = [b for b in backends if b not in KNOWN_BACKENDS]
        if unknown_backends:
            raise ValueError(f"unknown backend(s) {', '.join(unknown_backends)}; known: {', '.join(KNOWN_BACKENDS)}")
    host_timings = kwargs.get("host_timings")
    if host_timings is not None and host_timings not in HOST_RULES:
        raise ValueError(f"host_timings={host_timings!r}; accepted: {', '.join(map(repr, HOST_RULES))}")
    return MarkerSpec(
        tolerance=tolerance,
        metric_tolerances={name: parse_percent(value) for name, value in metrics.items()},
        limits=limits,
        backends=backends,
        llm_options=_mapping(kwargs, "llm_options"),
        host_timings=host_timings,
    )


def _mapping(kwargs: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = kwargs.get(key) or {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{key} must be a dict, not {type(value).__name__}")
    return dict(value)


def _check_limit(name: str, text: Any) -> None:
    """A limit must be a number with a time, size or other unit; it is checked against the metric's unit later."""
    _, unit = split_quantity(text)
    if unit in TIME_UNITS or unit in BYTE_UNITS or not unit:
        return
    if "/" not in unit and unit not in ("count", "tokens"):
        raise ValueError(
            f"limit for {name!r}: {text!r} has unknown unit {unit!r}; write a time ('2 ms', units "
            f"{', '.join(TIME_UNITS)}), a size ('1.5 GiB', units {', '.join(BYTE_UNITS)}) or the "
            "metric's own unit ('1000 tokens/s')"
        )
