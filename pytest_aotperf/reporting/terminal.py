"""The table of every measured test at the end of a run."""

from __future__ import annotations

from typing import List

from ..results import RunReport
from .rows import render_table, report_rows, unavailable_reasons


def summary_lines(report: RunReport) -> List[str]:
    """The table of judged metrics, then one line per metric this machine could not measure."""
    table = render_table([row.cells for row in report_rows(report)])
    return table + [f"unavailable: {reason}" for reason in unavailable_reasons(report)]
