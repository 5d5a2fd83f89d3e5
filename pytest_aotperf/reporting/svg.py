"""The SVG plots the reports draw, inline and self-contained: strip plot, sparkline and line plot."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from html import escape
from typing import Callable, List, Optional, Sequence, Tuple

from ..measure.stats import thin
from ..units import format_quantity
from .rows import NEUTRAL

FENCE = 1.5
"""The strip plot's axis covers the samples within FENCE interquartile ranges of the quartiles (Tukey's
fences), with the baseline's band and the current value; the samples beyond are counted and drawn at its edges."""
PLOTTED_SAMPLES = 100
"""Samples drawn per plot at most, evenly spaced in rank (the page stays light)."""
JITTER_SEED = 0
"""The dots' heights are random, from this seed: the same report gives the same page."""


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
    jitter = random.Random(JITTER_SEED)
    dots = [
        (min(max(scale(value), 10), width - 10), 18 + jitter.random() * (axis_y - 24))
        for value in thin(samples, PLOTTED_SAMPLES)
    ]
    svg.append(_dots(dots, color))
    svg.append(_vline(scale(current), 14, axis_y, color, 3))
    if beyond:
        svg.append(
            f"<text x='{width - 10}' y='10' text-anchor='end'>{beyond} sample(s) beyond the axis, "
            "drawn at its edges</text>"
        )
    svg.append(f"<line x1='10' x2='{width - 10}' y1='{axis_y}' y2='{axis_y}' stroke='#9aa5b1'/>")
    for tick in _ticks(low, high, max(2, width // 160)):
        x = scale(tick)
        anchor = "start" if x < 40 else "end" if x > width - 40 else "middle"
        svg.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{axis_y}' y2='{axis_y + 4}' stroke='#9aa5b1'/>"
            f"<text x='{x:.1f}' y='{height - 6}' text-anchor='{anchor}'>"
            f"{escape(_tick_label(tick, unit))}</text>"
        )
    return "".join(svg) + "</svg>"


def _dots(points: Sequence[Tuple[float, float]], color: str) -> str:
    """Many small dots as one path (a zero-length segment per dot, drawn with round caps): a few bytes each."""
    if not points:
        return ""
    path = "".join(f"M{x:.1f} {y:.1f}h0" for x, y in points)
    return (
        f"<path d='{path}' stroke='{color}' stroke-opacity='0.4' stroke-width='4' stroke-linecap='round' fill='none'/>"
    )


def _band(x: float, y: float, width: float, height: float) -> str:
    """The shaded tolerance band."""
    return f"<rect x='{x:.1f}' y='{y:g}' width='{width:.1f}' height='{height:.1f}' fill='#cfd8dc' fill-opacity='0.6'/>"


def sparkline(values: Sequence[float], color: str = NEUTRAL, width: int = 90, height: int = 22) -> str:
    """A small line of `values` (oldest first) with the last one as a dot; empty without values."""
    if not values:
        return ""
    low, high = _padded_range(values)
    x_of = _scale(0, max(len(values) - 1, 1), 3, width - 3)
    y_of = _scale(low, high, height - 3, 3)
    path = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(values))
    last = len(values) - 1
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"
        f"<title>{len(values)} run(s), from {values[0]:.4g} to {values[-1]:.4g}</title>"
        f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='1.5'/>"
        f"<circle cx='{x_of(last):.1f}' cy='{y_of(values[last]):.1f}' r='2.5' fill='{color}'/></svg>"
    )


@dataclass(frozen=True)
class Mark:
    """A run a line plot points out: a ring around its point (a regression), or a dashed line at it (a change point)."""

    index: int
    text: str
    """Shown on hover."""
    color: str
    line: bool = False


def line_plot(
    points: Sequence[Tuple[str, float]],
    unit: str,
    band: Optional[Tuple[float, float]] = None,
    color: str = NEUTRAL,
    width: int = 640,
    height: int = 200,
    noise: Sequence[Optional[Tuple[float, float]]] = (),
    marks: Sequence[Mark] = (),
) -> str:
    """Values over runs (labels, e.g. time and commit, on hover and at the ends of the x axis).

    `band` shades one range across the plot (e.g. the tolerance), `noise` a range per run (the
    noise band, a pair or None per point: shaded over the runs that have one), and `marks` point
    out runs (regressions, change points).
    """
    values = [value for _, value in points]
    banded = [(index, pair) for index, pair in enumerate(noise) if pair is not None]
    low, high = _padded_range(values + list(band or ()) + [v for _, pair in banded for v in pair])
    x_of = _scale(0, max(len(points) - 1, 1), 70, width - 16)
    y_of = _scale(low, high, height - 30, 10)
    svg = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>"]
    if band is not None:
        top, bottom = y_of(band[1]), y_of(band[0])
        svg.append(_band(70, top, width - 86, bottom - top))
    if banded:
        outline = [(x_of(i), y_of(high_)) for i, (_, high_) in banded]
        outline += [(x_of(i), y_of(low_)) for i, (low_, _) in reversed(banded)]
        shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in outline)
        svg.append(f"<polygon points='{shape}' fill='{color}' fill-opacity='0.15'/>")
    for tick in _ticks(low, high):
        y = y_of(tick)
        svg.append(
            f"<line x1='66' x2='{width - 16}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e4e7eb'/>"
            f"<text x='62' y='{y + 4:.1f}' text-anchor='end'>{escape(_tick_label(tick, unit))}</text>"
        )
    for mark in (m for m in marks if m.line):
        svg.append(_vline(x_of(mark.index), 10, height - 30, mark.color, 1.5, dashed=True, title=mark.text))
    path = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(values))
    svg.append(f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='2'/>")
    ringed = {m.index: m for m in marks if not m.line}
    for index, (label, value) in enumerate(points):
        ringed_mark = ringed.get(index)
        ring = f" stroke='{ringed_mark.color}' stroke-width='3'" if ringed_mark else ""
        note = f" ({ringed_mark.text})" if ringed_mark else ""
        svg.append(
            f"<circle cx='{x_of(index):.1f}' cy='{y_of(value):.1f}' r='{5 if ringed_mark else 3}' fill='{color}'{ring}>"
            f"<title>{escape(label)}: {escape(format_quantity(value, unit))}{escape(note)}</title></circle>"
        )
    for index, anchor in sorted({0: "start", len(points) - 1: "end"}.items()):
        svg.append(
            f"<text x='{x_of(index):.1f}' y='{height - 8}' text-anchor='{anchor}'>{escape(points[index][0])}</text>"
        )
    return "".join(svg) + "</svg>"


def _padded_range(values: Sequence[float]) -> Tuple[float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def _scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    return lambda value: start + (value - low) / (high - low) * (end - start)


def _ticks(low: float, high: float, count: int = 3) -> List[float]:
    """Round values (1, 2 or 5 times a power of ten apart) within [low, high], about `count` of them."""
    rough = (high - low) / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    first = math.ceil(low / step) * step + 0.0  # not -0.0
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _tick_label(tick: float, unit: str) -> str:
    return format_quantity(tick, unit) if tick else "0"


def _vline(x: float, top: float, bottom: float, color: str, width: float, dashed: bool = False, title: str = "") -> str:
    dash = " stroke-dasharray='4 3'" if dashed else ""
    line = f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{bottom}' stroke='{color}' stroke-width='{width}'{dash}"
    return f"{line}><title>{escape(title)}</title></line>" if title else f"{line}/>"


def _central(samples: Sequence[float]) -> List[float]:
    """The samples within Tukey's fences, so a long tail does not squash the plot."""
    ordered = sorted(samples)
    if len(ordered) < 4:
        return ordered
    q1, q3 = (ordered[round(q * (len(ordered) - 1))] for q in (0.25, 0.75))
    reach = FENCE * (q3 - q1)
    return [value for value in ordered if q1 - reach <= value <= q3 + reach]
