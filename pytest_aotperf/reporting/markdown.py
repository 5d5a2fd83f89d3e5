"""The Markdown summary of a run (--aot-report-md): what needs a look, backends side by side, then every measurement."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

from ..atomic import write_atomic
from ..results import RunReport
from .rows import (
    DEFAULT_REFERENCE,
    TABLE_HEADER,
    all_clear,
    backend_groups,
    backend_table,
    headline,
    report_rows,
    unavailable_reasons,
    upfront_sections,
)


def render_markdown(report: RunReport, reference: str = DEFAULT_REFERENCE) -> str:
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
    sections = upfront_sections(rows)
    for style, chosen in sections:
        lines += [f"### {style.title}", ""]
        lines += _table(
            ("test", "backend", "metric", "baseline", "current", "change", "tolerance"),
            [(r.test, r.backend, r.metric, r.baseline, r.current, r.change, r.tolerance) for r in chosen],
        )
        lines.append("")
    if rows and not sections:
        lines += [all_clear(rows), ""]
    groups = backend_groups(report, reference)
    if groups:
        header, table = backend_table(groups)
        lines += [
            "### Backends side by side",
            "",
            f"Each value with its ratio to `{reference}`'s "
            f"(to the test's first backend where `{reference}` did not run).",
            "",
        ]
        lines += _table(header, table) + [""]
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


def write_markdown(path: Path, report: RunReport, reference: str = DEFAULT_REFERENCE) -> None:
    write_atomic(Path(path), render_markdown(report, reference))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|")

    return [
        "| " + " | ".join(map(cell, header)) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(map(cell, row)) + " |" for row in rows),
    ]
