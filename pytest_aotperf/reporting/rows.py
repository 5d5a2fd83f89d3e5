"""The one row model every report renders: a row per judged metric, grouped per test and per backend. Pure.

Backends side by side: tests run on several backends are the same test when their names agree once
the backend id is taken out of the parametrization id (`comparison_key`): `test_model[eager-mlp-1]`
and `test_model[cudagraph-mlp-1]` are `test_model[mlp-1]` on two backends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..metrics import Metric
from ..results import PerfTestId, PerfTestResult, RunReport
from ..units import format_quantity
from ..verdict import IMPROVED, INFO, NEW, NOISY, REGRESSED, UNAVAILABLE, UNCHANGED, Status, Verdict

TABLE_HEADER = ("test", "backend", "metric", "baseline", "current", "change", "verdict")
DEFAULT_REFERENCE = "eager"
"""The backend the others are compared with, when a group has it (`--reference NAME`)."""
ELLIPSIS = "…"


@dataclass(frozen=True)
class StatusStyle:
    """How the reports show one status; STATUS_TABLE's order is the order of headlines and sections."""

    status: Status
    title: str
    """The heading of its section."""
    color: str
    attention: bool
    """Needs a person's look: listed in the terminal's default table (the other statuses are counted)."""
    upfront: bool
    """Listed first, each metric with its samples and message (HTML) or in a table of its own (Markdown)."""


STATUS_TABLE: Tuple[StatusStyle, ...] = (
    StatusStyle(REGRESSED, "Regressions", "#c62828", attention=True, upfront=True),
    StatusStyle(NOISY, "Too noisy to judge", "#e65100", attention=True, upfront=True),
    StatusStyle(
        IMPROVED, "Improvements beyond the tolerance (stale baselines)", "#2e7d32", attention=True, upfront=True
    ),
    StatusStyle(NEW, "New", "#6a1b9a", attention=True, upfront=False),
    StatusStyle(INFO, "Information (never judged)", "#52606d", attention=False, upfront=False),
    StatusStyle(UNCHANGED, "Unchanged", "#52606d", attention=False, upfront=False),
)
STYLES: Dict[str, StatusStyle] = {style.status: style for style in STATUS_TABLE}
NEUTRAL = "#0277bd"

KEY_METRICS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("latency", ("latency",)),
    ("device time", ("gpu_time",)),
    ("throughput", ("output_tokens_per_s", "throughput")),
    ("peak memory", ("gpu_peak_allocated", "gpu_device_used", "host_peak_rss")),
    ("compile", ("compile_s", "compile_cold_s", "compile_warm_s")),
)
"""A test's key metrics: per column, the metrics that fill it, the first one a test measured."""


JUDGED: Tuple[Status, ...] = (REGRESSED, IMPROVED, UNCHANGED, NOISY)
INFORMATION: Tuple[Status, ...] = (INFO, NEW, UNAVAILABLE)
"""Shown, not judged: information by nature, no baseline to judge against, or not measurable here."""
METRIC_GROUPS = ("latency", "throughput", "memory", "compile", "counts", "other")
"""The groups a report counts its metrics in, in the order it lists them (`metric_group`)."""


def metric_group(metric: Optional[Metric]) -> str:
    """Which of METRIC_GROUPS a metric counts in, by its kind: timings are latency, one-shot durations
    compile, rates (higher is better) throughput."""
    if metric is None:
        return "other"
    if metric.kind == "value":
        return "throughput" if metric.better == "higher" else "other"
    return {"timing": "latency", "duration": "compile", "memory": "memory", "count": "counts"}[metric.kind]


@dataclass(frozen=True)
class GroupCount:
    """One metric group's verdicts: how many were judged and how many are information."""

    group: str
    judged: int
    information: int


def group_counts(report: RunReport) -> List[GroupCount]:
    """Per metric group with any verdict (METRIC_GROUPS' order), its judged and informational counts;
    unavailable metrics count as information."""
    statuses: Dict[str, List[Status]] = {}
    for test in report.tests:
        for verdict in test.verdicts:
            statuses.setdefault(metric_group(test.metric(verdict.metric)), []).append(verdict.status)
    return [
        GroupCount(group, sum(s in JUDGED for s in found), sum(s in INFORMATION for s in found))
        for group in METRIC_GROUPS
        if (found := statuses.get(group))
    ]


def change_text(change: Optional[float]) -> str:
    return f"{change:+.1%}" if change is not None else ""


def ratio_text(value: float, reference: float) -> str:
    """value / reference to four significant digits, as "0.5200x"; empty when the reference is 0."""
    return f"{value / reference:#.4g}x" if reference else ""


def verdict_label(status: str, flags: Sequence[str]) -> str:
    """The verdict with its measurement flags, as "regressed (throttled)"."""
    return status + (f" ({', '.join(flags)})" if flags else "")


def status_color(status: str) -> str:
    style = STYLES.get(status)
    return style.color if style is not None else NEUTRAL


def status_rank(status: str) -> int:
    """Position in STATUS_TABLE: the lower, the more it needs a look."""
    return next((i for i, style in enumerate(STATUS_TABLE) if style.status == status), len(STATUS_TABLE))


@dataclass(frozen=True)
class Row:
    """One judged, measured metric of a report, with its numbers formatted for people."""

    test: str
    backend: str
    metric: str
    status: Status
    baseline: str
    current: str
    change: str
    tolerance: str
    verdict: Verdict
    measured: Optional[Metric]

    @property
    def verdict_text(self) -> str:
        return verdict_label(self.status, self.verdict.flags)

    @property
    def cells(self) -> tuple[str, ...]:
        """The row under TABLE_HEADER."""
        return (self.test, self.backend, self.metric, self.baseline, self.current, self.change, self.verdict_text)

    @property
    def equal_and_zero(self) -> bool:
        """A count that is 0 now and was 0 (or had no baseline): listed, not plotted."""
        return self.verdict.current == 0 and not self.verdict.baseline


def rows_of(test: PerfTestResult) -> List[Row]:
    """A test's measured metrics by name (unavailable ones left out)."""
    rows = []
    for verdict in sorted(test.verdicts, key=lambda v: v.metric):
        if verdict.current is None:
            continue
        rows.append(
            Row(
                test=test.test.name,
                backend=test.test.backend,
                metric=verdict.metric,
                status=verdict.status,
                baseline=format_quantity(verdict.baseline, verdict.unit) if verdict.baseline is not None else "-",
                current=format_quantity(verdict.current, verdict.unit),
                change=change_text(verdict.change),
                tolerance=f"±{verdict.tolerance * 100:.3g}%",
                verdict=verdict,
                measured=test.metric(verdict.metric),
            )
        )
    return rows


def report_rows(report: RunReport) -> List[Row]:
    """The measured metrics of a run, tests in run order, metrics by name."""
    return [row for test in report.tests for row in rows_of(test)]


@dataclass(frozen=True)
class MeasuredTest:
    """One test's rows, and what the one-row-per-test views show of it."""

    test: PerfTestId
    rows: Tuple[Row, ...]

    @property
    def status(self) -> Optional[Status]:
        """The status that most needs a look among its metrics (None: nothing measured)."""
        return min((row.status for row in self.rows), key=status_rank, default=None)

    def key(self, column: str) -> Optional[Row]:
        """The row filling a KEY_METRICS column, if the test measured one of its metrics."""
        by_metric = {row.metric: row for row in self.rows}
        names = dict(KEY_METRICS)[column]
        return next((by_metric[name] for name in names if name in by_metric), None)


def measured_tests(report: RunReport) -> List[MeasuredTest]:
    """Each test's rows, in run order."""
    return [MeasuredTest(test.test, tuple(rows_of(test))) for test in report.tests]


def key_columns(tests: Sequence[MeasuredTest]) -> List[str]:
    """The KEY_METRICS columns at least one of `tests` fills."""
    return [column for column, _ in KEY_METRICS if any(test.key(column) for test in tests)]


def needs_look(row: Row) -> bool:
    """Whether the row's status needs a person's look (a status missing from STATUS_TABLE does)."""
    style = STYLES.get(row.status)
    return style is None or style.attention


def attention_rows(rows: Sequence[Row]) -> List[Row]:
    """The rows that need a look, those that most need it first (run order within a status)."""
    return sorted(filter(needs_look, rows), key=lambda row: status_rank(row.status))


def status_counts(rows: Sequence[Row]) -> Dict[Status, int]:
    return {style.status: sum(row.status == style.status for row in rows) for style in STATUS_TABLE}


def headline(rows: Sequence[Row]) -> str:
    """e.g. "1 regressed, 0 noisy, 2 improved, 0 new, 40 unchanged": the verdicts (informational metrics have none)."""
    counts = status_counts(rows)
    return ", ".join(f"{count} {status}" for status, count in counts.items() if status != INFO)


def all_clear(rows: Sequence[Row]) -> str:
    """The one line for a run with no row to list up front: "Nothing regressed, noisy or improved: 40 unchanged."."""
    upfront = [style.status for style in STATUS_TABLE if style.upfront]
    names = ", ".join(upfront[:-1]) + f" or {upfront[-1]}" if len(upfront) > 1 else upfront[0]
    counts = ", ".join(f"{count} {status}" for status, count in status_counts(rows).items() if count)
    return f"Nothing {names}: {counts or 'nothing measured'}."


def upfront_sections(rows: Sequence[Row]) -> List[Tuple[StatusStyle, List[Row]]]:
    """The statuses listed first, in STATUS_TABLE's order, each with its rows (those with none left out)."""
    sections = [(style, [row for row in rows if row.status == style.status]) for style in STATUS_TABLE]
    return [(style, chosen) for style, chosen in sections if style.upfront and chosen]


def unavailable_reasons(report: RunReport) -> List[str]:
    """One `metric: reason` per metric the run could not measure (not one per test)."""
    reasons: dict[str, str] = {}
    for test in report.tests:
        for metric in test.metrics:
            if metric.unavailable is not None:
                reasons.setdefault(metric.name, metric.unavailable)
    return [f"{name}: {reason}" for name, reason in sorted(reasons.items())]


def comparison_key(test: PerfTestId) -> Tuple[str, str]:
    """The test's identity apart from its backend: (module, name without the backend id).

    The backend id is the first `-`-separated part of the parametrization id (between the
    brackets) equal to the backend's name, wherever the parametrizations put it:
    `test_model[eager-mlp-1]` and `test_model[mlp-1-eager]` are both `test_model[mlp-1]`. A name
    without it (no brackets, or a test that does not use a backend) is kept as it is.
    """
    match = re.fullmatch(r"(?s)(.*?)\[(.*)\]", test.name)
    if match is None:
        return test.module, test.name
    function, ids = match.groups()
    parts = ids.split("-")
    width = len(test.backend.split("-"))
    for start in range(len(parts) - width + 1):
        if "-".join(parts[start : start + width]) == test.backend:
            rest = parts[:start] + parts[start + width :]
            return test.module, f"{function}[{'-'.join(rest)}]" if rest else function
    return test.module, test.name


@dataclass(frozen=True)
class BackendCell:
    """One backend's value of one metric in a comparison, with its ratio to the reference backend's."""

    text: str
    ratio: str
    better: Optional[bool]
    """Better than the reference (None: the reference itself, or no ratio)."""


@dataclass(frozen=True)
class BackendGroup:
    """One test on several backends: per metric that two of them measured, each backend's value."""

    name: str
    backends: Tuple[str, ...]
    reference: str
    metrics: Tuple[Tuple[str, Tuple[Optional[BackendCell], ...]], ...]
    """(metric, one cell per backend, None where that backend did not measure it)."""


def backend_groups(report: RunReport, reference: str = DEFAULT_REFERENCE) -> List[BackendGroup]:
    """The tests of `report` run on two or more backends, in run order, compared with `reference`.

    A group without the reference backend is compared with its first backend. Metrics only one
    backend measured are left out (nothing to compare); the key metrics come first.
    """
    grouped: Dict[Tuple[str, str], List[PerfTestResult]] = {}
    for test in report.tests:
        grouped.setdefault(comparison_key(test.test), []).append(test)
    groups = []
    for (_, name), tests in grouped.items():
        backends = tuple(dict.fromkeys(test.test.backend for test in tests))
        if len(backends) < 2:
            continue
        measured = {test.test.backend: {m.name: m for m in test.metrics if m.value is not None} for test in tests}
        base = reference if reference in backends else backends[0]
        names = [n for n in _metric_order(measured) if sum(n in m for m in measured.values()) >= 2]
        metrics = tuple(
            (n, tuple(_cell(measured[b].get(n), measured[base].get(n), b == base) for b in backends)) for n in names
        )
        groups.append(BackendGroup(name, backends, base, metrics))
    return groups


def _metric_order(measured: Dict[str, Dict[str, Metric]]) -> List[str]:
    names = sorted({name for metrics in measured.values() for name in metrics})
    key_names = [name for _, candidates in KEY_METRICS for name in candidates if name in names]
    return key_names + [name for name in names if name not in key_names]


def _cell(metric: Optional[Metric], reference: Optional[Metric], is_reference: bool) -> Optional[BackendCell]:
    if metric is None or metric.value is None:
        return None
    text = format_quantity(metric.value, metric.unit)
    if is_reference or reference is None or reference.value is None or reference.unit != metric.unit:
        return BackendCell(text, "", None)
    ratio = ratio_text(metric.value, reference.value)
    if not ratio or metric.value == reference.value:
        return BackendCell(text, ratio, None)
    lower = metric.value < reference.value
    return BackendCell(text, ratio, lower if metric.better == "lower" else not lower)


def backend_table(groups: Sequence[BackendGroup]) -> Tuple[Tuple[str, ...], List[Tuple[str, ...]]]:
    """A plain table of `groups`: test, metric, then each backend's "value (ratio)"; reference backends first."""
    backends = list(dict.fromkeys(b for group in groups for b in (group.reference, *group.backends)))
    rows = []
    for group in groups:
        for metric, cells in group.metrics:
            by_backend = dict(zip(group.backends, cells))
            rows.append((group.name, metric, *(_cell_text(by_backend.get(b)) for b in backends)))
    return ("test", "metric", *backends), rows


def _cell_text(cell: Optional[BackendCell]) -> str:
    if cell is None:
        return "-"
    return f"{cell.text} ({cell.ratio})" if cell.ratio else cell.text


def render_table(
    rows: Sequence[Sequence[str]], header: Sequence[str] = TABLE_HEADER, width: Optional[int] = None
) -> List[str]:
    """Plain-text columns, as the terminal and `aotperf` commands print them.

    Within `width` characters when given: the widest columns are shortened first, each cell
    keeping its start and end around an ellipsis (`test_mod…mlp-16]`).
    """
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    if width is not None:
        widths = _fitted(widths, [len(h) for h in header], width - 2 * (len(header) - 1))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(abbreviate(str(c), w).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


def _fitted(widths: List[int], least: List[int], room: int) -> List[int]:
    """`widths` narrowed, widest first, until they fit `room` or each is down to max(its `least`, 6)."""
    widths = list(widths)
    floors = [max(n, 6) for n in least]
    while sum(widths) > room:
        shrinkable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def abbreviate(text: str, width: int) -> str:
    """`text` within `width` characters: its start and (longer) end around an ellipsis."""
    if len(text) <= width:
        return text
    head = (width - 1) * 2 // 5
    return text[:head] + ELLIPSIS + text[len(text) - (width - 1 - head) :]
