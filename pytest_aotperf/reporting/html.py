"""A self-contained HTML page of a run (`aotperf report --html`), and the page around the history's plots.

The page reads top down: the headline and what needs a look (each metric with its samples against
the baseline's band and its message), one row per test with its key metrics, backends side by
side, then every metric and plot per test behind a disclosure. Everything is inline (CSS here, SVG
from `svg`), so the page opens without a network.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

from ..atomic import write_atomic
from ..results import RunReport
from .rows import (
    DEFAULT_REFERENCE,
    NEUTRAL,
    BackendCell,
    BackendGroup,
    MeasuredTest,
    Row,
    all_clear,
    backend_groups,
    headline,
    key_columns,
    measured_tests,
    report_rows,
    status_color,
    unavailable_reasons,
    upfront_sections,
)
from .svg import sparkline, strip_plot

Trends = Mapping[Tuple[str, str], Sequence[float]]
"""Per (test, backend), a metric's values over the runs of a history, oldest first."""
BETTER, WORSE = "#2e7d32", "#c62828"
LEGEND = (
    "Shaded: the baseline's tolerance band; dashed line: baseline; dots: this run's samples; "
    "solid line: this run's value."
)
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2933; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta, .sub, small { color: #52606d; } .meta { margin-bottom: 16px; } .sub { font-size: 12px; }
table { border-collapse: collapse; background: #fff; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e4e7eb; text-align: left; white-space: nowrap; }
th { font-weight: 600; background: #f0f2f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody.group tr:first-child td { border-top: 2px solid #cbd2d9; }
.status { font-weight: 600; } .clear { font-size: 15px; color: #2e7d32; font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.card { background: #fff; border: 1px solid #e4e7eb; border-radius: 6px; padding: 8px 12px; max-width: 460px; }
.card h3 { font-size: 13px; margin: 0; font-weight: 600; }
details { background: #fff; border: 1px solid #e4e7eb; border-radius: 6px; padding: 4px 12px; margin: 6px 0; }
summary { cursor: pointer; padding: 2px 0; }
svg text { font: 11px system-ui, sans-serif; fill: #52606d; }
"""


def render_html(report: RunReport, reference: str = DEFAULT_REFERENCE, trends: Optional[Trends] = None) -> str:
    """The page; `trends` (latency per test over a history's runs) adds a trend column to the tests' table."""
    rows = report_rows(report)
    tests = measured_tests(report)
    environment = report.environment
    parts = [
        f"<div class='meta'>machine <b>{escape(report.machine)}</b> · commit "
        f"{escape(str(environment.get('commit') or 'unknown'))} · {escape(str(environment.get('time', '')))}"
        f" · device {escape(str(environment.get('device', '')))}</div>",
        _attention(rows),
        _tests_table(tests, trends),
        _backends(backend_groups(report, reference), reference),
        "<section id='details'><h2>Details</h2>"
        f"<p class='meta'>Every metric of each test. {LEGEND}</p>" + "".join(_details(test) for test in tests),
    ]
    if report.comparison_description:
        parts.insert(1, f"<p><b>{escape(report.comparison_description)}</b></p>")
    reasons = unavailable_reasons(report)
    if reasons:
        parts.append(
            "<p>Not measurable on this machine:</p><ul>"
            + "".join(f"<li>{escape(reason)}</li>" for reason in reasons)
            + "</ul>"
        )
    parts.append("</section>")
    return page(f"aotperf: {headline(rows)}", "".join(parts))


def write_html(
    path: Path, report: RunReport, reference: str = DEFAULT_REFERENCE, trends: Optional[Trends] = None
) -> None:
    write_atomic(Path(path), render_html(report, reference, trends))


def _attention(rows: Sequence[Row]) -> str:
    """The statuses listed up front, a card per metric; or the one line saying there is none."""
    sections = upfront_sections(rows)
    if not sections:
        return f"<section id='attention'><p class='clear'>{escape(all_clear(rows))}</p></section>"
    parts = [f"<p class='meta'>{LEGEND}</p>"]
    for style, chosen in sections:
        parts.append(
            f"<h2 style='color:{style.color}'>{escape(style.title)} ({len(chosen)})</h2><div class='cards'>"
            + "".join(_card(row, f"{row.test} · {row.metric}", row.verdict.describe(), 440) for row in chosen)
            + "</div>"
        )
    return "<section id='attention'>" + "".join(parts) + "</section>"


def _tests_table(tests: Sequence[MeasuredTest], trends: Optional[Trends]) -> str:
    """One row per test: its status, then each key metric's value and change in its verdict's colour."""
    columns = key_columns(tests)
    head = "".join(f"<th>{escape(name)}</th>" for name in ("test", "backend", "verdict", *columns))
    head += "<th>latency trend</th>" if trends is not None else ""
    body = []
    for test in tests:
        status = test.status or ""
        cells = [
            f"<td>{escape(test.test.name)}</td><td>{escape(test.test.backend)}</td>"
            f"<td class='status' style='color:{status_color(status)}'>{escape(status)}</td>"
        ]
        for column in columns:
            row = test.key(column)
            cells.append(
                "<td></td>"
                if row is None
                else f"<td class='num' title='{escape(row.metric)}: {escape(row.verdict_text)}'>{escape(row.current)}"
                f" <small style='color:{status_color(row.status)}'>{escape(row.change or row.status)}</small></td>"
            )
        if trends is not None:
            cells.append(f"<td>{sparkline(trends.get((test.test.name, test.test.backend), ()))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<section id='tests'><h2>Tests</h2>"
        "<p class='meta'>Each key metric: this run's value and its change from the baseline, in the verdict's "
        f"colour.</p><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )


def _backends(groups: Sequence[BackendGroup], reference: str) -> str:
    """Each test run on several backends: per metric, each backend's value and its ratio to the reference's."""
    if not groups:
        return ""
    backends = list(dict.fromkeys(b for group in groups for b in (group.reference, *group.backends)))
    head = "".join(f"<th>{escape(name)}</th>" for name in ("test", "metric", *backends))
    bodies = []
    for group in groups:
        rows = []
        for index, (metric, cells) in enumerate(group.metrics):
            by_backend = dict(zip(group.backends, cells))
            name = (
                f"<td rowspan='{len(group.metrics)}'>{escape(group.name)}"
                + (f"<br><small>vs {escape(group.reference)}</small>" if group.reference != reference else "")
                + "</td>"
                if index == 0
                else ""
            )
            rows.append(
                f"<tr>{name}<td>{escape(metric)}</td>"
                + "".join(_backend_cell(by_backend.get(b)) for b in backends)
                + "</tr>"
            )
        bodies.append("<tbody class='group'>" + "".join(rows) + "</tbody>")
    return (
        "<section id='backends'><h2>Backends side by side</h2>"
        f"<p class='meta'>Each value with its ratio to <b>{escape(reference)}</b>'s (to the group's first backend "
        "where it did not run), green where better, red where worse.</p>"
        f"<table><thead><tr>{head}</tr></thead>{''.join(bodies)}</table></section>"
    )


def _backend_cell(cell: Optional[BackendCell]) -> str:
    if cell is None:
        return "<td class='num'>-</td>"
    color = NEUTRAL if cell.better is None else BETTER if cell.better else WORSE
    ratio = f" <small style='color:{color}'>{escape(cell.ratio)}</small>" if cell.ratio else ""
    return f"<td class='num'>{escape(cell.text)}{ratio}</td>"


def _details(test: MeasuredTest) -> str:
    """A test's metrics behind a disclosure: its table, a plot per metric, the counts equal and zero listed."""
    status = test.status or "nothing measured"
    plotted = [row for row in test.rows if not row.equal_and_zero]
    zeros = [row.metric for row in test.rows if row.equal_and_zero]
    body = "".join(
        f"<tr><td>{escape(r.metric)}</td><td class='num'>{escape(r.baseline)}</td>"
        f"<td class='num'>{escape(r.current)}</td><td class='num'>{escape(r.change)}</td>"
        f"<td class='num'>{escape(r.tolerance)}</td>"
        f"<td class='status' style='color:{status_color(r.status)}'>{escape(r.verdict_text)}</td></tr>"
        for r in test.rows
    )
    head = "".join(f"<th>{name}</th>" for name in ("metric", "baseline", "current", "change", "tolerance", "verdict"))
    return (
        f"<details><summary><b>{escape(test.test.name)}</b> ({escape(test.test.backend)}): "
        f"<span style='color:{status_color(status)}'>{escape(status)}</span>, {len(test.rows)} metrics</summary>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        + (f"<p class='sub'>Equal and zero (not plotted): {escape(', '.join(zeros))}</p>" if zeros else "")
        + "<div class='cards'>"
        + "".join(
            _card(row, row.metric, f"{row.current} vs {row.baseline} {row.change} (tolerance {row.tolerance})")
            for row in plotted
        )
        + "</div></details>"
    )


def _card(row: Row, title: str, text: str, width: int = 340) -> str:
    """A metric's verdict, `text` under it and its strip plot."""
    verdict = row.verdict
    samples = row.measured.samples if row.measured is not None else ()
    assert verdict.current is not None  # rows hold measured metrics only
    color = status_color(row.status)
    return (
        f"<div class='card'><h3>{escape(title)} <span style='color:{color}'>{escape(row.verdict_text)}</span></h3>"
        f"<div class='sub'>{escape(text)}</div>"
        + strip_plot(verdict.current, verdict.baseline, verdict.tolerance, samples, verdict.unit, color, width)
        + "</div>"
    )


def page(title: str, body: str) -> str:
    """A complete page with the report's style around `body` (already HTML)."""
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )
