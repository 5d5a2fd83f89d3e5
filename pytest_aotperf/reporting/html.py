"""A self-contained HTML page of a run (`aotperf report --html`): the table and one plot per metric.

Everything is inline (CSS and SVG drawn here), so the page opens without a network.
"""

from __future__ import annotations

from html import escape
from itertools import groupby
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..atomic import write_atomic
from ..results import RunReport
from ..units import format_quantity
from ..verdict import IMPROVED, NEW, REGRESSED
from .rows import TABLE_HEADER, Row, headline, report_rows, unavailable_reasons

STATUS_COLORS: Dict[str, str] = {REGRESSED: "#c62828", IMPROVED: "#2e7d32", NEW: "#6a1b9a"}
NEUTRAL = "#0277bd"
SHOWN_QUANTILES = (0.25, 0.75)
"""The samples' range (with the baseline band and current value) the strip plot's axis covers."""
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2933; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #52606d; margin-bottom: 16px; }
table { border-collapse: collapse; background: #fff; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e7eb; text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #e4e7eb; border-radius: 6px; padding: 8px 12px; }
.card h3 { font-size: 13px; margin: 0; font-weight: 600; }
.card .sub { color: #52606d; font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #52606d; }
"""


def render_html(report: RunReport) -> str:
    rows = report_rows(report)
    environment = report.environment
    parts = [
        f"<div class='meta'>machine <b>{escape(report.machine)}</b> · commit "
        f"{escape(str(environment.get('commit') or 'unknown'))} · {escape(str(environment.get('time', '')))}"
        f" · device {escape(str(environment.get('device', '')))}</div>",
        _table(rows),
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
    parts.append(
        "<h2>Each metric against its baseline</h2><p class='meta'>Shaded: the baseline's tolerance band; "
        "dashed line: baseline; dots: this run's samples; solid line: this run's value.</p>"
    )
    for (test, backend), group in groupby(rows, key=lambda r: (r.test, r.backend)):
        parts.append(
            f"<h2>{escape(test)} <span class='meta'>({escape(backend)})</span></h2><div class='cards'>"
            + "".join(_card(row) for row in group)
            + "</div>"
        )
    return page(f"aotperf: {headline(rows)}", "".join(parts))


def write_html(path: Path, report: RunReport) -> None:
    write_atomic(Path(path), render_html(report))


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, NEUTRAL)


def _table(rows: Sequence[Row]) -> str:
    head = "".join(f"<th>{name}</th>" for name in TABLE_HEADER)
    body = "".join(
        f"<tr><td>{escape(r.test)}</td><td>{escape(r.backend)}</td><td>{escape(r.metric)}</td>"
        f"<td class='num'>{escape(r.baseline)}</td><td class='num'>{escape(r.current)}</td>"
        f"<td class='num'>{escape(r.change)}</td>"
        f"<td class='status' style='color:{status_color(r.status)}'>{escape(r.verdict_text)}</td></tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _card(row: Row) -> str:
    verdict = row.verdict
    samples = row.measured.samples if row.measured is not None else ()
    assert verdict.current is not None  # rows hold measured metrics only
    return (
        f"<div class='card'><h3>{escape(row.metric)} <span style='color:{status_color(row.status)}'>"
        f"{escape(row.verdict_text)}</span></h3>"
        f"<div class='sub'>{escape(row.current)} vs {escape(row.baseline)} {escape(row.change)} "
        f"(tolerance {escape(row.tolerance)})</div>"
        + strip_plot(
            verdict.current, verdict.baseline, verdict.tolerance, samples, verdict.unit, status_color(row.status)
        )
        + "</div>"
    )


def tolerance_band(baseline: Optional[float], tolerance: float) -> Optional[Tuple[float, float]]:
    """The values within `tolerance` of `baseline`, or None without a baseline."""
    return (baseline * (1 - tolerance), baseline * (1 + tolerance)) if baseline is not None else None


def strip_plot(
    current: float,
    baseline: Optional[float],
    tolerance: float,
    samples: Sequence[float],
    unit: str,
    color: str,
    width: int = 380,
    height: int = 74,
) -> str:
    """A horizontal axis with the tolerance band around the baseline, the samples and the current value."""
    band = tolerance_band(baseline, tolerance)
    low, high = _padded_range([current, *_central(samples), *(band or ())])
    scale = _scale(low, high, 10, width - 10)
    axis_y = height - 22
    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"]
    if band is not None:
        x0, x1 = scale(band[0]), scale(band[1])
        svg.append(_band(x0, 14, x1 - x0, axis_y - 14))
        svg.append(_vline(scale((band[0] + band[1]) / 2), 14, axis_y, "#1f2933", 2, dashed=True))
    beyond = sum(not low <= value <= high for value in samples)
    for index, value in enumerate(samples):
        x = min(max(scale(value), 10), width - 10)
        y = 18 + (index * 7919 % 97) / 97 * (axis_y - 24)
        svg.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2' fill='{color}' fill-opacity='0.35'/>")
    svg.append(_vline(scale(current), 14, axis_y, color, 3))
    if beyond:
        svg.append(
            f"<text x='{width - 10}' y='10' text-anchor='end'>{beyond} sample(s) beyond the axis, "
            "drawn at its edges</text>"
        )
    svg.append(f"<line x1='10' x2='{width - 10}' y1='{axis_y}' y2='{axis_y}' stroke='#9aa5b1'/>")
    for tick in _ticks(low, high):
        x = scale(tick)
        anchor = "start" if x < 40 else "end" if x > width - 40 else "middle"
        svg.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{axis_y}' y2='{axis_y + 4}' stroke='#9aa5b1'/>"
            f"<text x='{x:.1f}' y='{height - 6}' text-anchor='{anchor}'>"
            f"{escape(format_quantity(tick, unit))}</text>"
        )
    return "".join(svg) + "</svg>"


def _band(x: float, y: float, width: float, height: float) -> str:
    """The shaded tolerance band."""
    return f"<rect x='{x:.1f}' y='{y:g}' width='{width:.1f}' height='{height:.1f}' fill='#cfd8dc' fill-opacity='0.6'/>"


def line_plot(
    points: Sequence[Tuple[str, float]],
    unit: str,
    band: Optional[Tuple[float, float]] = None,
    color: str = NEUTRAL,
    width: int = 640,
    height: int = 200,
    bounds: Sequence[Optional[Tuple[float, float]]] = (),
) -> str:
    """Values over runs (labels on the x axis), with an optional shaded band (e.g. the tolerance) and optional
    per-run (low, high) `bounds`, drawn dashed where given (e.g. the band the earlier runs allowed)."""
    values = [value for _, value in points]
    bounded = [(index, pair) for index, pair in enumerate(bounds) if pair is not None]
    low, high = _padded_range(values + list(band or ()) + [v for _, pair in bounded for v in pair])
    x_of = _scale(0, max(len(points) - 1, 1), 70, width - 16)
    y_of = _scale(low, high, height - 30, 10)
    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"]
    if band is not None:
        top, bottom = y_of(band[1]), y_of(band[0])
        svg.append(_band(70, top, width - 86, bottom - top))
    for tick in _ticks(low, high):
        y = y_of(tick)
        svg.append(
            f"<line x1='66' x2='{width - 16}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e4e7eb'/>"
            f"<text x='62' y='{y + 4:.1f}' text-anchor='end'>{escape(format_quantity(tick, unit))}</text>"
        )
    for side in (0, 1):
        edge = " ".join(f"{x_of(i):.1f},{y_of(pair[side]):.1f}" for i, pair in bounded)
        svg.append(f"<polyline points='{edge}' fill='none' stroke='#52606d' stroke-dasharray='4 3'/>" if edge else "")
    path = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(values))
    svg.append(f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='2'/>")
    for index, (label, value) in enumerate(points):
        svg.append(
            f"<circle cx='{x_of(index):.1f}' cy='{y_of(value):.1f}' r='3' fill='{color}'>"
            f"<title>{escape(label)}: {escape(format_quantity(value, unit))}</title></circle>"
        )
    for index in sorted({0, len(points) - 1}):
        svg.append(
            f"<text x='{x_of(index):.1f}' y='{height - 8}' text-anchor='middle'>{escape(points[index][0])}</text>"
        )
    return "".join(svg) + "</svg>"


def page(title: str, body: str) -> str:
    """A complete page with the report's style around `body` (already HTML)."""
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def _padded_range(values: Sequence[float]) -> Tuple[float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def _scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    return lambda value: start + (value - low) / (high - low) * (end - start)


def _ticks(low: float, high: float, count: int = 3) -> List[float]:
    step = (high - low) / count
    return [low + step * (i + 0.5) for i in range(count)]


def _vline(x: float, top: float, bottom: float, color: str, width: float, dashed: bool = False) -> str:
    dash = " stroke-dasharray='4 3'" if dashed else ""
    return f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{bottom}' stroke='{color}' stroke-width='{width}'{dash}/>"


def _central(samples: Sequence[float]) -> List[float]:
    """The samples between the SHOWN_QUANTILES, so a few outliers do not squash the plot."""
    ordered = sorted(samples)
    if len(ordered) < 10:
        return ordered
    first, last = (round(q * (len(ordered) - 1)) for q in SHOWN_QUANTILES)
    return ordered[first : last + 1]
