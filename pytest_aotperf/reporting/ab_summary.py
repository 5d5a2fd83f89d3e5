"""What an A/B report (`aotperf ab`) leads with: head's regressions and improvements against base, each
with the 95% interval of its ratio, and per metric group how many metrics were judged. Pure."""

from __future__ import annotations

from typing import List, Sequence, Tuple

from ..results import RunReport
from ..verdict import IMPROVED, NOISY, REGRESSED, UNCHANGED, Verdict
from .rows import INFORMATION, GroupCount, Row, group_counts, render_table, report_rows

CHANGE_HEADER = ("test", "backend", "metric", "base", "head", "change", "95% interval")
"""A change's columns; the interval is of the ratio head/base, where the verdict has one."""
CHANGES: Tuple[Tuple[str, str], ...] = ((REGRESSED, "Regressions"), (IMPROVED, "Improvements"))
"""The statuses an A/B report leads with, in order, and their headings."""


def is_ab(report: RunReport) -> bool:
    """Whether the report judges one tree against another (`aotperf ab`), not against stored baselines."""
    return report.comparison is not None and report.comparison.get("kind") == "ab"


def changes(rows: Sequence[Row], status: str) -> List[Row]:
    """The rows of `status`, in run order."""
    return [row for row in rows if row.status == status]


def interval_text(verdict: Verdict) -> str:
    """The verdict's 95% interval of the ratio head/base, as "1.45–1.55x"; empty where it has none."""
    if verdict.interval is None:
        return ""
    low, high = verdict.interval
    return f"{low:.3f}–{high:.3f}x"


def change_cells(row: Row) -> Tuple[str, ...]:
    """The row under CHANGE_HEADER."""
    return (row.test, row.backend, row.metric, row.baseline, row.current, row.change, interval_text(row.verdict))


def ab_headline(report: RunReport) -> str:
    """e.g. "2 regressed, 1 improved, 140 unchanged; 30 shown as information" (noisy only where there are any)."""
    statuses = [v.status for test in report.tests for v in test.verdicts]
    judged = [f"{statuses.count(s)} {s}" for s in (REGRESSED, IMPROVED, UNCHANGED)]
    noisy = [f"{statuses.count(NOISY)} noisy"] if NOISY in statuses else []
    information = sum(s in INFORMATION for s in statuses)
    return f"{', '.join(judged + noisy)}; {information} shown as information"


def group_lines(counts: Sequence[GroupCount]) -> List[str]:
    """One line per metric group, e.g. "latency: 12 judged, 4 information"."""
    return [f"{c.group}: {c.judged} judged, {c.information} information" for c in counts]


def terminal_lines(report: RunReport) -> List[str]:
    """The A/B report for the terminal: what changed (a table per status, or "none"), then the groups."""
    rows = report_rows(report)
    lines: List[str] = []
    for status, title in CHANGES:
        chosen = changes(rows, status)
        table = render_table([change_cells(row) for row in chosen], CHANGE_HEADER) if chosen else []
        lines += [f"{title}: {len(chosen) or 'none'}", *table]
    return lines + ["By metric group:"] + ["  " + line for line in group_lines(group_counts(report))]
