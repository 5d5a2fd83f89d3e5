"""The one value object for a measured quantity, as a test records it and as a baseline stores it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Dict, Literal, Mapping, Optional, Sequence, Tuple, cast

from .measure.stats import Summary, summarize, thin
from .schema import SchemaError, choice, field, number, require_json, require_object, strings

Better = Literal["lower", "higher"]
Kind = Literal["timing", "duration", "memory", "value", "count"]
"""timing: sampled latency; duration: one-shot time (compile, capture); memory: bytes; count: a number the
model determines (kernels per call, graphs), judged exactly; value: anything else."""

BETTER_VALUES: Tuple[Better, ...] = ("lower", "higher")
KIND_VALUES: Tuple[Kind, ...] = ("timing", "duration", "memory", "value", "count")
NON_NEGATIVE_KINDS: Tuple[Kind, ...] = ("timing", "duration", "memory", "count")
SIGNIFICANT_DIGITS = 6
MAX_RUNS = 20
"""Run values a stored metric keeps for the run-to-run spread (the newest)."""


def rounded(value: float) -> float:
    """Values are stored to 6 significant digits: more is noise, and files stay readable."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(value) else value


@dataclass(frozen=True)
class Metric:
    """One measured quantity of one test, or the reason it could not be measured.

    `value` is the representative number (the median for sampled metrics) in SI units:
    seconds for time, bytes for memory. `value is None` exactly when `unavailable` says why.
    A stored metric (`stored()`) is the same type with thinned, rounded samples and `runs`.
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
    context: Tuple[Tuple[str, object], ...] = ()
    """Extra facts about the measurement (clock readings, probe source), as sorted pairs."""
    runs: Tuple[float, ...] = ()
    """The representative value of each recorded run (`aotperf refresh --runs N`); baselines keep them."""
    informational: bool = False
    """Recorded and shown, never judged: it scales with the sampling budget or describes the process, not the test."""
    host_speed: bool = False
    """Moves with the host's speed (a host-bound latency, a rate derived from it, any timing on a CPU-only
    machine): judged by the spread of its own runs (`host_speed.judge_host_speed`). Durations always are."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a metric needs a name, not {self.name!r}")
        if self.better not in BETTER_VALUES:
            raise ValueError(f"metric {self.name!r}: better must be one of {BETTER_VALUES}, not {self.better!r}")
        if self.kind not in KIND_VALUES:
            raise ValueError(f"metric {self.name!r}: kind must be one of {KIND_VALUES}, not {self.kind!r}")
        if (self.value is None) == (self.unavailable is None):
            raise ValueError(f"metric {self.name!r}: give a value or the reason it is unavailable, not both or neither")
        numbers = ((self.value,) if self.value is not None else ()) + self.samples + self.runs
        infinite = [n for n in numbers if not math.isfinite(n)]
        if infinite:
            raise ValueError(
                f"metric {self.name!r}: {infinite[0]} is not a finite number; "
                "a value that could not be measured is recorded with record_unavailable(name, reason)"
            )
        if self.kind in NON_NEGATIVE_KINDS and any(n < 0 for n in numbers):
            raise ValueError(f"metric {self.name!r}: a {self.kind} metric cannot be negative, found {min(numbers)}")
        require_json(dict(self.context), f"metric {self.name!r}: context")

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
        informational: bool = False,
        host_speed: bool = False,
    ) -> Metric:
        """A sampled metric: its value is the samples' median, its summary their statistics."""
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
            informational=informational,
            host_speed=host_speed,
        )

    def thinned(self) -> Metric:
        """The metric with its samples thinned as a baseline keeps them (`measure.stats.thin`); its value and
        summary, of every sample, unchanged. What a report keeps unless it asks for raw samples."""
        return dataclasses.replace(self, samples=thin(self.samples)) if self.samples else self

    def stored(self, runs: Tuple[float, ...] = ()) -> Metric:
        """The form a baseline keeps: samples thinned, values rounded, no context, the runs' values.

        Without earlier `runs`, the metric's own value is its one run.
        """
        if self.value is not None and not runs:
            runs = (self.value,)
        return dataclasses.replace(
            self,
            value=rounded(self.value) if self.value is not None else None,
            samples=tuple(rounded(s) for s in self.thinned().samples),
            summary=_rounded_summary(self.summary) if self.summary is not None else None,
            context=(),
            runs=tuple(rounded(r) for r in runs[-MAX_RUNS:]),
        )

    def to_json(self) -> Dict[str, Any]:
        """Unit, direction and kind (and `informational`, `host_speed` where set), then either why it is
        unavailable, or its value, statistics, samples, flags, context and runs (each where there is one)."""
        data: Dict[str, Any] = {"unit": self.unit, "better": self.better, "kind": self.kind}
        if self.informational:
            data["informational"] = True
        if self.host_speed:
            data["host_speed"] = True
        if self.unavailable is not None:
            data["unavailable"] = self.unavailable
            return data
        data["value"] = self.value
        if self.summary is not None:
            data["summary"] = vars(self.summary).copy()
        if self.samples:
            data["samples"] = list(self.samples)
        if self.flags:
            data["flags"] = list(self.flags)
        if self.context:
            data["context"] = dict(self.context)
        if self.runs:
            data["runs"] = list(self.runs)
        return data

    @classmethod
    def from_json(cls, name: str, data: Any, where: str) -> Metric:
        """The metric `to_json` wrote; a SchemaError names the JSON path of anything malformed."""
        data = require_object(data, where)
        unit = field(data, "unit", str, where)
        better = cast(Better, choice(data, "better", BETTER_VALUES, where))
        kind = cast(Kind, choice(data, "kind", KIND_VALUES, where))
        informational = field(data, "informational", bool, where, False)
        host_speed = field(data, "host_speed", bool, where, False)
        try:
            if "unavailable" in data:
                reason = field(data, "unavailable", str, where)
                return cls(
                    name, unit, better, kind, unavailable=reason, informational=informational, host_speed=host_speed
                )
            value = number(data.get("value"), f"{where}.value")
            samples = _numbers(data, "samples", where)
            summary = _summary(data, where)
            flags = strings(data, "flags", where)
            context = tuple(sorted(field(data, "context", dict, where, {}).items()))
            runs = _numbers(data, "runs", where)
            return cls(
                name=name,
                unit=unit,
                better=better,
                kind=kind,
                value=value,
                samples=samples,
                summary=summary,
                flags=flags,
                context=context,
                runs=runs,
                informational=informational,
                host_speed=host_speed,
            )
        except SchemaError:
            raise
        except ValueError as error:  # what Metric itself refuses
            raise SchemaError(f"{where}: {error}") from None


def _rounded_summary(s: Summary) -> Summary:
    return Summary(
        s.n,
        rounded(s.min),
        rounded(s.median),
        rounded(s.mean),
        rounded(s.stddev),
        rounded(s.iqr),
        rounded(s.p90),
        rounded(s.p99),
    )


def _numbers(data: Mapping[str, Any], key: str, where: str) -> Tuple[float, ...]:
    return tuple(number(v, f"{where}.{key}[{i}]") for i, v in enumerate(field(data, key, list, where, [])))


def _summary(data: Mapping[str, Any], where: str) -> Optional[Summary]:
    if "summary" not in data:
        return None
    raw = field(data, "summary", dict, where)
    try:
        values = {k: number(raw[k], f"{where}.summary.{k}") for k in Summary.__dataclass_fields__}
    except KeyError as missing:
        raise SchemaError(
            f"{where}.summary: missing {missing}; needs n, min, median, mean, stddev, iqr, p90, p99"
        ) from None
    v = values
    return Summary(int(v["n"]), v["min"], v["median"], v["mean"], v["stddev"], v["iqr"], v["p90"], v["p99"])
