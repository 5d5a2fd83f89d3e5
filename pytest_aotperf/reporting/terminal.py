"""The table of every measured test at the end of a run."""

from __future__ import annotations

from typing import List

from ..results import RunReport
from .rows import headline, render_table, report_rows, unavailable_reasons


def summary_lines(report: RunReport) -> List[str]:
    """The table of judged metrics, one line per metric this machine could not measure, then the counts."""
    rows = report_rows(report)
    unavailable = [f"unavailable: {reason}" for reason in unavailable_reasons(report)]
    return render_table([row.cells for row in rows]) + unavailable + [f"aotperf: {headline(rows)}"]
