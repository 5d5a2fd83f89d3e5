"""The Markdown summary of a run (--aot-report-md): regressions, improvements, then every measurement."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

from ..baselines.storage import write_atomic
from ..compare import IMPROVED, NEW, REGRESSED, UNAVAILABLE, UNCHANGED
from ..units import format_quantity
from .terminal import TABLE_HEADER, change_text, verdict_label

STATUS_ORDER = (REGRESSED, IMPROVED, NEW, UNCHANGED)


@dataclass(frozen=True)
class Row:
    """One judged metric of a report, with its numbers formatted for people."""

    test: str
    backend: str
    metric: str
    status: str
    baseline: str
    current: str
    change: str
    tolerance: str
    verdict: Mapping[str, Any]
    measured: Mapping[str, Any]

    @property
    def verdict_text(self) -> str:
        return verdict_label(self.status, self.verdict.get("flags") or ())


def report_rows(report: Mapping[str, Any]) -> List[Row]:
    """The judged, measured metrics of a JSON report (--aot-report): tests in run order, metrics by name."""
    rows = []
    for test in report["tests"]:
        for name, verdict in sorted(test["verdicts"].items()):
            if verdict["status"] == UNAVAILABLE:
                continue
            unit = verdict.get("unit", "")
            baseline: Optional[float] = verdict.get("baseline")
            rows.append(
                Row(
                    test=test["test"],
                    backend=test["backend"],
                    metric=name,
                    status=verdict["status"],
                    baseline=format_quantity(baseline, unit) if baseline is not None else "-",
                    current=format_quantity(verdict["current"], unit),
                    change=change_text(verdict.get("change")),
                    tolerance=f"±{verdict['tolerance'] * 100:.3g}%",
                    verdict=verdict,
                    measured=test["metrics"].get(name, {}),
                )
            )
    return rows


def unavailable_reasons(report: Mapping[str, Any]) -> List[str]:
    """One `metric: reason` per metric the run could not measure."""
    reasons = {}
    for test in report["tests"]:
        for name, metric in test["metrics"].items():
            if "unavailable" in metric:
                reasons.setdefault(name, metric["unavailable"])
    return [f"{name}: {reason}" for name, reason in sorted(reasons.items())]


def headline(rows: Sequence[Row]) -> str:
    counts = {status: sum(r.status == status for r in rows) for status in STATUS_ORDER}
    return ", ".join(f"{count} {status}" for status, count in counts.items())


def render_markdown(report: Mapping[str, Any]) -> str:
    rows = report_rows(report)
    backends = sorted({r.backend for r in rows})
    lines = [
        f"## aotperf: {headline(rows)}",
        "",
        f"Machine `{report['machine']}`, backend(s) {', '.join(backends) or 'none'}, "
        f"commit `{report['environment'].get('commit') or 'unknown'}`.",
        "",
    ]
    if "comparison" in report:
        lines += [f"**{report['comparison']['description']}**", ""]
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
        lines += _table(
            TABLE_HEADER, [(r.test, r.backend, r.metric, r.baseline, r.current, r.change, r.verdict_text) for r in rows]
        )
        lines += ["", "</details>", ""]
    else:
        lines += ["No measured tests in this run.", ""]
    reasons = unavailable_reasons(report)
    if reasons:
        lines += ["Not measurable on this machine:", ""] + [f"- {reason}" for reason in reasons] + [""]
    return "\n".join(lines)


def write_markdown(path: Path, report: Mapping[str, Any]) -> None:
    write_atomic(Path(path), render_markdown(report))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(map(cell, row)) + " |" for row in rows),
    ]
