"""One row per judged metric of a run, with its numbers formatted: what every table renders. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

from ..metrics import Metric
from ..results import RunReport
from ..units import format_quantity
from ..verdict import IMPROVED, NEW, NOISY, REGRESSED, UNCHANGED, Status, Verdict

TABLE_HEADER = ("test", "backend", "metric", "baseline", "current", "change", "verdict")
STATUS_ORDER = (REGRESSED, IMPROVED, NOISY, NEW, UNCHANGED)


def change_text(change: Optional[float]) -> str:
    return f"{change:+.1%}" if change is not None else ""


def verdict_label(status: str, flags: Sequence[str]) -> str:
    """The verdict with its measurement flags, as "regressed (throttled)"."""
    return status + (f" ({', '.join(flags)})" if flags else "")


@dataclass(frozen=True)
class Row:
    """One judged, measured metric of a report, with its numbers formatted for people."""

    test: str
    backend: str
    metric: str
    status: Status
    baseline: str
    current: str
    change: str
    tolerance: str
    verdict: Verdict
    measured: Optional[Metric]

    @property
    def verdict_text(self) -> str:
        return verdict_label(self.status, self.verdict.flags)

    @property
    def cells(self) -> tuple[str, ...]:
        """The row under TABLE_HEADER."""
        return (self.test, self.backend, self.metric, self.baseline, self.current, self.change, self.verdict_text)


def report_rows(report: RunReport) -> List[Row]:
    """The measured metrics of a run, tests in run order, metrics by name (unavailable ones left out)."""
    rows = []
    for test in report.tests:
        for verdict in sorted(test.verdicts, key=lambda v: v.metric):
            if verdict.current is None:
                continue
            rows.append(
                Row(
                    test=test.test.name,
                    backend=test.test.backend,
                    metric=verdict.metric,
                    status=verdict.status,
                    baseline=format_quantity(verdict.baseline, verdict.unit) if verdict.baseline is not None else "-",
                    current=format_quantity(verdict.current, verdict.unit),
                    change=change_text(verdict.change),
                    tolerance=f"±{verdict.tolerance * 100:.3g}%",
                    verdict=verdict,
                    measured=test.metric(verdict.metric),
                )
            )
    return rows


def unavailable_reasons(report: RunReport) -> List[str]:
    """One `metric: reason` per metric the run could not measure (not one per test)."""
    reasons: dict[str, str] = {}
    for test in report.tests:
        for metric in test.metrics:
            if metric.unavailable is not None:
                reasons.setdefault(metric.name, metric.unavailable)
    return [f"{name}: {reason}" for name, reason in sorted(reasons.items())]


def headline(rows: Sequence[Row]) -> str:
    counts = {status: sum(r.status == status for r in rows) for status in STATUS_ORDER}
    return ", ".join(f"{count} {status}" for status, count in counts.items())


def render_table(rows: Sequence[Sequence[str]], header: Sequence[str] = TABLE_HEADER) -> List[str]:
    """Plain-text columns, as the terminal and `aotperf` commands print them."""
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]
