"""The Markdown summary of a run (--aot-report-md): regressions, improvements, then every measurement."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

from ..atomic import write_atomic
from ..results import RunReport
from ..verdict import IMPROVED, REGRESSED
from .rows import TABLE_HEADER, headline, report_rows, unavailable_reasons


def render_markdown(report: RunReport) -> str:
    rows = report_rows(report)
    backends = sorted({r.backend for r in rows})
    lines = [
        f"## aotperf: {headline(rows)}",
        "",
        f"Machine `{report.machine}`, backend(s) {', '.join(backends) or 'none'}, "
        f"commit `{report.environment.get('commit') or 'unknown'}`.",
        "",
    ]
    if report.comparison_description:
        lines += [f"**{report.comparison_description}**", ""]
    for status, title in ((REGRESSED, "Regressions"), (IMPROVED, "Improvements")):
        chosen = [r for r in rows if r.status == status]
        if chosen:
            lines += [f"### {title}", ""]
            lines += _table(
                ("test", "backend", "metric", "baseline", "current", "change", "tolerance"),
                [(r.test, r.backend, r.metric, r.baseline, r.current, r.change, r.tolerance) for r in chosen],
            )
            lines.append("")
    if rows:
        lines += [f"<details><summary>All {len(rows)} measurements</summary>", ""]
        lines += _table(TABLE_HEADER, [r.cells for r in rows])
        lines += ["", "</details>", ""]
    else:
        lines += ["No measured tests in this run.", ""]
    reasons = unavailable_reasons(report)
    if reasons:
        lines += ["Not measurable on this machine:", ""] + [f"- {reason}" for reason in reasons] + [""]
    return "\n".join(lines)


def write_markdown(path: Path, report: RunReport) -> None:
    write_atomic(Path(path), render_markdown(report))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|")

    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(map(cell, row)) + " |" for row in rows),
    ]
