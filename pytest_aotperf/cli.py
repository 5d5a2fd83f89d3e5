"""`aotperf`: refresh baselines, show them, compare two reports, render a report, show the history."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .ab.command import add_ab_command, run_ab
from .atomic import WriteError, write_atomic
from .baselines.files import BaselineError, UnsafeNameError, baseline_files, load_document
from .baselines.from_reports import NamedReport, refresh_from_reports
from .history.store import HistoryError, load_series
from .history.trend import DEFAULT_WINDOW, MIN_RUNS
from .interop.benchmark_json import write_benchmark_json
from .reporting.history import change_lines, history_html, history_lines
from .reporting.html import write_html
from .reporting.markdown import render_markdown, write_markdown
from .reporting.rows import DEFAULT_REFERENCE, backend_groups, backend_table, ratio_text, render_table
from .results import KEPT, ReportError, RunReport, load_report
from .units import format_quantity

DEFAULT_HISTORY = "aotperf-history.sqlite"
PYTEST_TEST_FAILURES = 1
"""pytest's exit code when tests failed: an earlier run of `refresh --runs` may have regressions."""
USAGE_ERROR = 2

Changes = Mapping[Tuple[str, str], Mapping[str, str]]
"""Per (test, backend), what a refresh did to each metric."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aotperf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    refresh = commands.add_parser(
        "refresh",
        help="run the suite in refresh mode and print what changed; or refresh from reports taken elsewhere",
        description="Arguments after the options go to pytest (not with --from-reports).",
    )
    refresh.add_argument(
        "--runs",
        type=int,
        default=1,
        metavar="N",
        help="record N runs, so verdicts account for run-to-run spread (default 1)",
    )
    refresh.add_argument("--force", action="store_true", help="rewrite every measured metric")
    refresh.add_argument(
        "--from-reports",
        nargs="+",
        type=Path,
        metavar="REPORT",
        help="write baselines from these reports (--aot-report) instead of running pytest: each test "
        "from the last report that holds it, the earlier ones that hold it as earlier runs",
    )
    refresh.add_argument(
        "--baseline-dir",
        type=Path,
        default=Path("baselines"),
        metavar="DIR",
        help="with --from-reports: where the baselines are (default: baselines)",
    )
    show = commands.add_parser("show", help="a table of stored baselines")
    show.add_argument("directory", nargs="?", default="baselines", type=Path)
    compare = commands.add_parser(
        "compare", help="two reports side by side, with ratios; or, with --backends, one report's backends"
    )
    compare.add_argument("first", type=Path)
    compare.add_argument("second", type=Path, nargs="?")
    compare.add_argument(
        "--backends",
        action="store_true",
        help="compare the backends of one report: each test run on several, per metric, with ratios",
    )
    add_reference(compare)
    report = commands.add_parser(
        "report",
        help="render a JSON report (--aot-report) as HTML, Markdown or "
        "pytest-benchmark JSON; Markdown to stdout when no output is named",
    )
    report.add_argument("report", type=Path)
    report.add_argument("--html", type=Path, metavar="OUT", help="a self-contained HTML page with plots")
    report.add_argument("--md", type=Path, metavar="OUT", help="the Markdown summary")
    report.add_argument("--benchmark-json", type=Path, metavar="OUT", help="pytest-benchmark's JSON format")
    report.add_argument(
        "--history", type=Path, metavar="DB", help="with --html: a latency trend per test from this history"
    )
    add_reference(report)
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
    return parser


def add_reference(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reference",
        default=DEFAULT_REFERENCE,
        metavar="NAME",
        help=f"the backend the others are compared with (default: {DEFAULT_REFERENCE})",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    passes_to_pytest = args.command == "ab" or args.command == "refresh" and not args.from_reports
    if rest and not passes_to_pytest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return COMMANDS[args.command](args, rest)
    except (ReportError, BaselineError, UnsafeNameError, HistoryError, WriteError, FileNotFoundError) as error:
        print(f"aotperf {args.command}: {error}", file=sys.stderr)
        return USAGE_ERROR


def refresh_command(args: argparse.Namespace, pytest_args: List[str]) -> int:
    if args.runs < 1:
        build_parser().error("--runs must be at least 1")
    if args.from_reports:
        return refresh_from_report_files(args.from_reports, args.baseline_dir, args.force)
    return run_refresh(pytest_args, args.runs, args.force)


def refresh_from_report_files(paths: Sequence[Path], baseline_dir: Path, force: bool) -> int:
    """`aotperf refresh --from-reports`: read the reports (each file once), store them, print what changed."""
    resolved = [path.resolve() for path in paths]
    repeated = sorted({str(path) for path, real in zip(paths, resolved) if resolved.count(real) > 1})
    if repeated:
        build_parser().error(f"--from-reports: {', '.join(repeated)} given more than once (one run each)")
    reports = [NamedReport(str(path), load_report(path)) for path in paths]
    refreshed = refresh_from_reports(reports, baseline_dir, force)
    written = [str(path) for path in refreshed.written]
    print_refresh_summary(refreshed.changes, written, f"from {len(reports)} report(s)")
    if refreshed.environment_changes:
        changed = ", ".join(refreshed.environment_changes)
        print(f"aotperf refresh: the reports' environment differs from the stored baselines': {changed}")
    return 0


def run_refresh(pytest_args: List[str], runs: int, force: bool) -> int:
    """Run pytest `runs` times (each its own process), recording all runs in the last; print changes."""
    with tempfile.TemporaryDirectory(prefix="aotperf-refresh-") as scratch:
        earlier = []
        for index in range(runs - 1):
            path = Path(scratch, f"run-{index + 1}.json")
            code = _pytest([*pytest_args, f"--aot-report={path}"])
            if code not in (0, PYTEST_TEST_FAILURES) or not path.exists():
                print(f"aotperf refresh: run {index + 1} of {runs} failed (pytest exit code {code}); nothing written")
                return code or 1
            earlier.append(str(path))
        final = Path(scratch, "final.json")
        extra = ["--aot-refresh", f"--aot-report={final}"]
        extra += ["--aot-force-refresh"] if force else []
        extra += [f"--aot-prior-runs={','.join(earlier)}"] if earlier else []
        code = _pytest([*pytest_args, *extra])
        if final.exists():
            report = load_report(final)
            changes = {(t.test.name, t.test.backend): t.baseline_changes for t in report.tests}
            print()
            print_refresh_summary(changes, report.baselines_written)
        return code


def _pytest(args: List[str]) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", *args])


def print_refresh_summary(changes: Changes, files: Sequence[str], source: str = "") -> None:
    """A table of the metrics written, by (test, backend), then a count line naming the files written."""
    rows = [
        (test, backend, metric, change)
        for (test, backend), metrics in changes.items()
        for metric, change in sorted(metrics.items())
        if change != KEPT
    ]
    kept = sum(change == KEPT for metrics in changes.values() for change in metrics.values())
    if rows:
        print("\n".join(render_table(rows, ("test", "backend", "metric", "baseline"))))
    source = f" {source}" if source else ""
    print(
        f"aotperf refresh: {len(rows)} metric(s) written{source}, {kept} kept unchanged; "
        f"files written: {', '.join(files) or 'none'}"
    )


def report_command(args: argparse.Namespace, _: List[str]) -> int:
    report = load_report(args.report)
    if args.html:
        trends = latency_trends(args.history, report.machine) if args.history else None
        write_html(args.html, report, args.reference, trends)
    if args.md:
        write_markdown(args.md, report, args.reference)
    if args.benchmark_json:
        write_benchmark_json(args.benchmark_json, report)
    if not (args.html or args.md or args.benchmark_json):
        print(render_markdown(report, args.reference))
    return 0


def latency_trends(db: Path, machine: str) -> Dict[Tuple[str, str], List[float]]:
    """Each (test, backend)'s latency over the history's runs on `machine`, oldest first."""
    series = load_series(db, "latency", machine=machine)
    return {key: [point.value for point in points] for key, points in series.items()}


def history_command(args: argparse.Namespace, _: List[str]) -> int:
    if args.window < MIN_RUNS:
        build_parser().error(f"--window must be at least {MIN_RUNS}: fewer runs are never taken for a drift")
    series = load_series(args.db, args.metric, args.test, args.machine)
    if not series:
        matching = f" for tests matching {args.test!r}" if args.test else ""
        print(f"aotperf history: no runs in {args.db} recorded {args.metric!r}{matching}")
    lines = change_lines(series, args.metric) if args.changes else history_lines(series, args.metric, args.window)
    print("\n".join(lines))
    if args.html:
        write_atomic(args.html, history_html(series, args.metric, args.window))
    return 0


def show_command(args: argparse.Namespace, _: List[str]) -> int:
    directory: Path = args.directory
    if not directory.exists():
        raise FileNotFoundError(f"{directory}: no such folder")
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: is a file, not a folder of baselines")
    rows = []
    for path in baseline_files(directory):
        document = load_document(path)
        machine, backend = document.machine, document.backend
        for test, entry in sorted(document.entries.items()):
            for name, metric in sorted(entry.metrics.items()):
                value = format_quantity(metric.value, metric.unit) if metric.value is not None else "unavailable"
                samples = str(metric.summary.n) if metric.summary else ""
                rows.append((machine, backend, test, name, value, samples, str(len(metric.runs) or "")))
    if not rows:
        print(f"aotperf show: no baselines in {directory}")
        return 0
    print("\n".join(render_table(rows, ("machine", "backend", "test", "metric", "value", "samples", "runs"))))
    return 0


def compare_command(args: argparse.Namespace, _: List[str]) -> int:
    if args.backends == (args.second is not None):
        build_parser().error("compare takes two reports, or one with --backends")
    if args.backends:
        return compare_backends(load_report(args.first), args.reference)
    first, second = load_report(args.first), load_report(args.second)
    values_a, values_b = _values(first), _values(second)
    rows = []
    for key in sorted(set(values_a) | set(values_b)):
        (test, backend, metric), va, vb = key, values_a.get(key), values_b.get(key)
        unit = (va or vb or (0.0, ""))[1]
        ratio = ratio_text(vb[0], va[0]) if va and vb else ""
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
    header = ("test", "backend", "metric", args.first.name, args.second.name, "ratio")
    print("\n".join(render_table(rows, header)))
    return 0


def compare_backends(report: RunReport, reference: str) -> int:
    """Each test run on several backends of `report`: per metric, each backend's value and ratio to `reference`."""
    groups = backend_groups(report, reference)
    if not groups:
        print("aotperf compare: no test of this report ran on more than one backend")
        return 0
    header, rows = backend_table(groups)
    print("\n".join(render_table(rows, header, shutil.get_terminal_size().columns)))
    return 0


def _values(report: RunReport) -> Dict[Tuple[str, str, str], Tuple[float, str]]:
    return {
        (test.test.name, test.test.backend, metric.name): (metric.value, metric.unit)
        for test in report.tests
        for metric in test.metrics
        if metric.value is not None
    }


COMMANDS: Dict[str, Callable[[argparse.Namespace, List[str]], int]] = {
    "refresh": refresh_command,
    "show": show_command,
    "compare": compare_command,
    "report": report_command,
    "history": history_command,
    "ab": run_ab,
}

if __name__ == "__main__":
    sys.exit(main())
