"""The table of every measured test, as the terminal summary and `aotperf` commands print it."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from ..session import PerfTestResult
from ..units import format_quantity

TABLE_HEADER = ("test", "backend", "metric", "baseline", "current", "change", "verdict")


def change_text(change: Optional[float]) -> str:
    return f"{change:+.1%}" if change is not None else ""


def verdict_label(status: str, flags: Sequence[str]) -> str:
    """The verdict with its measurement flags, as "regressed (throttled)"."""
    return status + (f" ({', '.join(flags)})" if flags else "")


def table_rows(results: Sequence[PerfTestResult]) -> List[Tuple[str, ...]]:
    rows = []
    for result in results:
        for verdict in result.verdicts:
            if verdict.current is None:
                continue
            rows.append(
                (
                    result.test.name,
                    result.test.backend,
                    verdict.metric,
                    format_quantity(verdict.baseline, verdict.unit) if verdict.baseline is not None else "-",
                    format_quantity(verdict.current, verdict.unit) if verdict.current is not None else "unavailable",
                    change_text(verdict.change),
                    verdict_label(verdict.status, verdict.flags),
                )
            )
    return rows


def unavailable_lines(results: Sequence[PerfTestResult]) -> List[str]:
    """One line per metric this machine could not measure, with the reason (not one per test)."""
    reasons: Dict[str, str] = {}
    for result in results:
        for metric in result.metrics:
            if not metric.available:
                reasons.setdefault(metric.name, metric.unavailable or "")
    return [f"unavailable: {name}: {reason}" for name, reason in sorted(reasons.items())]


def render_table(rows: Sequence[Tuple[str, ...]], header: Tuple[str, ...] = TABLE_HEADER) -> List[str]:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]
