"""The Markdown summary of a run (--aot-report-md): what needs a look, backends side by side, then every measurement.
An A/B report (`aotperf ab`) gets a PR comment's form instead: a headline, what changed, the rest folded."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

from ..atomic import write_atomic
from ..results import RunReport
from .ab_summary import CHANGES, ab_headline, changes, group_lines, interval_text, is_ab
from .rows import (
    DEFAULT_REFERENCE,
    TABLE_HEADER,
    all_clear,
    backend_groups,
    backend_table,
    group_counts,
    headline,
    report_rows,
    unavailable_reasons,
    upfront_sections,
)

AB_TABLE_HEADER = ("test", "backend", "metric", "base", "head", "change", "verdict")


def render_markdown(report: RunReport, reference: str = DEFAULT_REFERENCE) -> str:
    if is_ab(report):
        return render_ab_markdown(report)
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


def render_ab_markdown(report: RunReport) -> str:
    """An A/B report short enough for a phone: the headline, regressions then improvements as small
    tables, and everything else (groups, how it was judged, every measurement) folded."""
    rows = report_rows(report)
    comparison = report.comparison or {}
    base, head = comparison.get("base", {}), comparison.get("head", {})
    lines = [
        f"## aotperf A/B: {ab_headline(report)}",
        "",
        f"Head `{str(head.get('commit', ''))[:12]}` against base `{str(base.get('commit', ''))[:12]}` "
        f"({base.get('ref', '')}), {comparison.get('rounds', '?')} round(s) each, machine `{report.machine}`.",
        "",
    ]
    for status, title in CHANGES:
        chosen = changes(rows, status)
        if chosen:
            lines += [f"### {title}", ""]
            lines += _table(
                ("test", "metric", "base", "head", "change", "95% interval"),
                [(r.test, r.metric, r.baseline, r.current, r.change, interval_text(r.verdict)) for r in chosen],
            )
            lines.append("")
    lines += ["<details><summary>Metric groups, how it was judged, every measurement</summary>", ""]
    lines += [f"- {line}" for line in group_lines(group_counts(report))] + [""]
    if report.comparison_description:
        lines += [report.comparison_description, ""]
    if comparison.get("only_in_base"):
        lines += [f"Only in base (not judged): {', '.join(comparison['only_in_base'])}", ""]
    lines += _table(AB_TABLE_HEADER, [r.cells for r in rows]) + [""]
    reasons = unavailable_reasons(report)
    if reasons:
        lines += ["Not measurable on this machine:", ""] + [f"- {reason}" for reason in reasons] + [""]
    lines += ["</details>", ""]
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
