"""`aotperf`: refresh baselines, show them, compare two reports, render a report, show the history."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .ab.command import add_ab_command, run_ab
from .baselines.record import record_reports
from .baselines.refresh import KEPT
from .baselines.storage import BaselineError, baseline_files, load_file, write_atomic
from .history_store import load_series
from .interop.benchmark_json import write_benchmark_json
from .measure.trend import DEFAULT_WINDOW
from .reporting.history import change_lines, history_html, history_lines
from .reporting.html import write_html
from .reporting.json_report import load_report
from .reporting.markdown import render_markdown, write_markdown
from .reporting.terminal import render_table
from .units import format_quantity

DEFAULT_HISTORY = "aotperf-history.sqlite"
PYTEST_TEST_FAILURES = 1
"""pytest's exit code when tests failed: an earlier run of `refresh --runs` may have regressions."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="aotperf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    refresh = commands.add_parser(
        "refresh",
        help="run the suite in refresh mode and print what changed",
        description="Arguments after the options go to pytest.",
    )
    refresh.add_argument(
        "--runs",
        type=int,
        default=1,
        metavar="N",
        help="record N runs, so verdicts account for run-to-run spread (default 1)",
    )
    refresh.add_argument("--force", action="store_true", help="rewrite every measured metric")
    show = commands.add_parser("show", help="a table of stored baselines")
    show.add_argument("directory", nargs="?", default="baselines", type=Path)
    compare = commands.add_parser("compare", help="two reports side by side, with ratios")
    compare.add_argument("first", type=Path)
    compare.add_argument("second", type=Path)
    record = commands.add_parser(
        "record",
        help="write baselines from reports (--aot-report) taken elsewhere; "
        "several reports of one suite are recorded as several runs",
    )
    record.add_argument("reports", nargs="+", type=Path, metavar="REPORT")
    record.add_argument("--baseline-dir", type=Path, default=Path("baselines"), metavar="DIR")
    record.add_argument("--force", action="store_true", help="rewrite every metric, changed or not")
    report = commands.add_parser(
        "report",
        help="render a JSON report (--aot-report) as HTML, Markdown or "
        "pytest-benchmark JSON; Markdown to stdout when no output is named",
    )
    report.add_argument("report", type=Path)
    report.add_argument("--html", type=Path, metavar="OUT", help="a self-contained HTML page with plots")
    report.add_argument("--md", type=Path, metavar="OUT", help="the Markdown summary")
    report.add_argument("--benchmark-json", type=Path, metavar="OUT", help="pytest-benchmark's JSON format")
    history = commands.add_parser(
        "history", help="a metric over the runs of a history (--aot-history); flags slow drift"
    )
    history.add_argument("test", nargs="?", help="only tests whose node id contains this")
    history.add_argument("--metric", default="latency", help="the metric (default: latency)")
    history.add_argument(
        "--db",
        type=Path,
        default=Path(DEFAULT_HISTORY),
        metavar="PATH",
        help=f"the history database (default: {DEFAULT_HISTORY})",
    )
    history.add_argument("--machine", help="only runs on this machine key")
    history.add_argument(
        "--window",
        type=int,
        default=DEFAULT_WINDOW,
        metavar="N",
        help=f"runs the drift detection looks at (default {DEFAULT_WINDOW})",
    )
    history.add_argument("--html", type=Path, metavar="OUT", help="also write plots to this HTML page")
    history.add_argument("--changes", action="store_true", help="list the runs where the metric stepped to a new level")
    add_ab_command(commands)
    args, rest = parser.parse_known_args(argv)
    if args.command == "ab":
        return run_ab(args, rest)
    if args.command != "refresh" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "refresh":
        if args.runs < 1:
            parser.error("--runs must be at least 1")
        return run_refresh(rest, args.runs, args.force)
    if args.command == "show":
        return show_baselines(args.directory)
    if args.command == "record":
        return record_baselines(args.reports, args.baseline_dir, args.force)
    if args.command == "report":
        return render_report(args.report, args.html, args.md, args.benchmark_json)
    if args.command == "history":
        return show_history(args.db, args.metric, args.test, args.machine, args.window, args.html, args.changes)
    return compare_reports(args.first, args.second)


def record_baselines(paths: List[Path], root: Path, force: bool) -> int:
    try:
        reports = [load_report(path) for path in paths]
        written, changes = record_reports(reports, root, force)
    except (ValueError, BaselineError) as error:
        print(f"aotperf record: {error}", file=sys.stderr)
        return 2
    written_count, _ = print_changed(changes)
    print(
        f"aotperf record: {written_count} metric(s) written from {len(reports)} run(s); "
        f"files written: {', '.join(map(str, written)) or 'none'}"
    )
    return 0


def render_report(path: Path, html: Optional[Path], md: Optional[Path], benchmark: Optional[Path]) -> int:
    try:
        report = load_report(path)
    except ValueError as error:
        print(f"aotperf report: {error}", file=sys.stderr)
        return 2
    if html:
        write_html(html, report)
    if md:
        write_markdown(md, report)
    if benchmark:
        write_benchmark_json(benchmark, report)
    if not (html or md or benchmark):
        print(render_markdown(report))
    return 0


def show_history(
    db: Path,
    metric: str,
    test: Optional[str],
    machine: Optional[str],
    window: int,
    html: Optional[Path],
    changes: bool = False,
) -> int:
    try:
        series = load_series(db, metric, test, machine)
    except FileNotFoundError as error:
        print(f"aotperf history: {error}", file=sys.stderr)
        return 2
    if not series:
        matching = f" for tests matching {test!r}" if test else ""
        print(f"aotperf history: no runs in {db} recorded {metric!r}{matching}")
    print("\n".join(change_lines(series, metric) if changes else history_lines(series, metric, window)))
    if html:
        write_atomic(html, history_html(series, metric, window))
    return 0


def run_refresh(pytest_args: List[str], runs: int, force: bool) -> int:
    """Run pytest `runs` times (each its own process), recording all runs in the last; print changes."""
    with tempfile.TemporaryDirectory(prefix="aotperf-refresh-") as scratch:
        earlier = []
        for index in range(runs - 1):
            report = Path(scratch, f"run-{index + 1}.json")
            code = _pytest([*pytest_args, f"--aot-report={report}"])
            if code not in (0, PYTEST_TEST_FAILURES) or not report.exists():
                print(f"aotperf refresh: run {index + 1} of {runs} failed (pytest exit code {code}); nothing written")
                return code or 1
            earlier.append(str(report))
        final = Path(scratch, "final.json")
        extra = ["--aot-update-baselines", f"--aot-report={final}"]
        extra += ["--aot-force-update"] if force else []
        extra += [f"--aot-prior-runs={','.join(earlier)}"] if earlier else []
        code = _pytest([*pytest_args, *extra])
        if final.exists():
            print_changes(load_report(final))
        return code


def _pytest(args: List[str]) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", *args])


def print_changed(changes: Mapping[Tuple[str, str], Mapping[str, str]]) -> Tuple[int, int]:
    """A table of the metrics written, by (test, backend); returns (written, kept)."""
    rows = [
        (test, backend, metric, change)
        for (test, backend), metrics in changes.items()
        for metric, change in sorted(metrics.items())
        if change != KEPT
    ]
    kept = sum(change == KEPT for metrics in changes.values() for change in metrics.values())
    if rows:
        print("\n".join(render_table(rows, ("test", "backend", "metric", "baseline"))))
    return len(rows), kept


def print_changes(report: Dict) -> None:
    print()
    written, kept = print_changed(
        {(test["test"], test["backend"]): test["baseline_changes"] for test in report["tests"]}
    )
    print(
        f"aotperf refresh: {written} metric(s) written, {kept} kept unchanged; "
        f"files written: {', '.join(report['baselines_written']) or 'none'}"
    )


def show_baselines(directory: Path) -> int:
    rows = []
    for path in baseline_files(directory):
        try:
            entries = load_file(path)
        except BaselineError as error:
            print(f"aotperf show: {error}", file=sys.stderr)
            return 2
        machine, backend = path.relative_to(directory).parts[:2]
        for test, entry in sorted(entries.items()):
            for name, metric in sorted(entry.metrics.items()):
                value = format_quantity(metric.value, metric.unit) if metric.value is not None else "unavailable"
                rows.append(
                    (
                        machine,
                        backend,
                        test,
                        name,
                        value,
                        str(metric.summary.n) if metric.summary else "",
                        str(len(metric.runs) or ""),
                    )
                )
    if not rows:
        print(f"aotperf show: no baselines in {directory}")
        return 0
    print("\n".join(render_table(rows, ("machine", "backend", "test", "metric", "value", "samples", "runs"))))
    return 0


def compare_reports(first: Path, second: Path) -> int:
    try:
        a, b = load_report(first), load_report(second)
    except ValueError as error:
        print(f"aotperf compare: {error}", file=sys.stderr)
        return 2
    values_a, values_b = _values(a), _values(b)
    rows = []
    for key in sorted(set(values_a) | set(values_b)):
        (test, backend, metric), va, vb = key, values_a.get(key), values_b.get(key)
        unit = (va or vb)[1]
        ratio = f"{vb[0] / va[0]:.3f}x" if va and vb and va[0] else ""
        rows.append(
            (
                test,
                backend,
                metric,
                format_quantity(va[0], unit) if va else "-",
                format_quantity(vb[0], unit) if vb else "-",
                ratio,
            )
        )
    print("\n".join(render_table(rows, ("test", "backend", "metric", first.name, second.name, "ratio"))))
    return 0


def _values(report: Dict) -> Dict[Tuple[str, str, str], Tuple[float, str]]:
    return {
        (test["test"], test["backend"], name): (metric["value"], metric["unit"])
        for test in report["tests"]
        for name, metric in test["metrics"].items()
        if metric.get("value") is not None
    }


if __name__ == "__main__":
    sys.exit(main())
