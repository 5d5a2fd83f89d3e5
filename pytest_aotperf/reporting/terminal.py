"""The table at the end of a run: by default what needs a look, and a count of the rest; within the terminal."""

from __future__ import annotations

import textwrap
from itertools import groupby
from typing import List, Optional, Sequence

from ..results import RunReport
from .rows import (
    Row,
    abbreviate,
    attention_rows,
    headline,
    needs_look,
    render_table,
    report_rows,
    status_counts,
    unavailable_reasons,
)

SHOW_ALL_HINT = "-v or --aot-table=all shows them"
GROUPED_HEADER = ("test / metric", "baseline", "current", "change", "verdict")


def summary_lines(report: RunReport, everything: bool = False, width: Optional[int] = None) -> List[str]:
    """The headline, the table of judged metrics (those that need a look, unless `everything`),
    a count of the rows left out, then what this machine could not measure; within `width` columns."""
    rows = report_rows(report)
    shown = rows if everything else attention_rows(rows)
    lines = [headline(rows)]
    if shown:
        lines += _table(shown, width)
    left_out = [] if everything else [row for row in rows if not needs_look(row)]
    if left_out:
        counts = ", ".join(f"{count} {status}" for status, count in status_counts(left_out).items() if count)
        lines.append(f"not shown: {counts} ({SHOW_ALL_HINT})")
    for reason in unavailable_reasons(report):
        lines += textwrap.wrap(f"unavailable: {reason}", width or 10**6, subsequent_indent="  ")
    return lines


def _table(rows: Sequence[Row], width: Optional[int]) -> List[str]:
    """One line per row; where that is wider than `width`, each test's name on a line of its own above its metrics."""
    flat = render_table([row.cells for row in rows])
    if width is None or max(map(len, flat)) <= width:
        return flat
    cells = [("  " + row.metric, row.baseline, row.current, row.change, row.verdict_text) for row in rows]
    table = render_table(cells, GROUPED_HEADER, width)
    lines, index = table[:2], 2
    for (test, backend), group in groupby(rows, key=lambda row: (row.test, row.backend)):
        count = len(list(group))
        lines.append(abbreviate(f"{test} ({backend})", width))
        lines += table[index : index + count]
        index += count
    return lines
