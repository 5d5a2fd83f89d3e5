"""`aotperf`: refresh baselines, show them, compare two reports."""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .baselines.refresh import KEPT
from .baselines.storage import BaselineError, baseline_files, load_file
from .reporting.json_report import load_report
from .reporting.terminal import render_table
from .units import format_quantity

PYTEST_TEST_FAILURES = 1
"""pytest's exit code when tests failed: an earlier run of `refresh --runs` may have regressions."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="aotperf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    refresh = commands.add_parser("refresh", help="run the suite in refresh mode and print what changed",
                                  description="Arguments after the options go to pytest.")
    refresh.add_argument("--runs", type=int, default=1, metavar="N",
                         help="record N runs, so verdicts account for run-to-run spread (default 1)")
    refresh.add_argument("--force", action="store_true", help="rewrite every measured metric")
    show = commands.add_parser("show", help="a table of stored baselines")
    show.add_argument("directory", nargs="?", default="baselines", type=Path)
    compare = commands.add_parser("compare", help="two reports side by side, with ratios")
    compare.add_argument("first", type=Path)
    compare.add_argument("second", type=Path)
    args, rest = parser.parse_known_args(argv)
    if args.command != "refresh" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "refresh":
        if args.runs < 1:
            parser.error("--runs must be at least 1")
        return run_refresh(rest, args.runs, args.force)
    if args.command == "show":
        return show_baselines(args.directory)
    return compare_reports(args.first, args.second)


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


def print_changes(report: Dict) -> None:
    rows = [(test["test"], test["backend"], metric, change)
            for test in report["tests"] for metric, change in sorted(test["baseline_changes"].items())
            if change != KEPT]
    kept = sum(change == KEPT for test in report["tests"] for change in test["baseline_changes"].values())
    print()
    if rows:
        print("\n".join(render_table(rows, ("test", "backend", "metric", "baseline"))))
    print(f"aotperf refresh: {len(rows)} metric(s) written, {kept} kept unchanged; "
          f"files written: {', '.join(report['baselines_written']) or 'none'}")


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
                rows.append((machine, backend, test, name, value,
                             str(metric.summary.n) if metric.summary else "", str(len(metric.runs) or "")))
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
        rows.append((test, backend, metric, format_quantity(va[0], unit) if va else "-",
                     format_quantity(vb[0], unit) if vb else "-", ratio))
    print("\n".join(render_table(rows, ("test", "backend", "metric", first.name, second.name, "ratio"))))
    return 0


def _values(report: Dict) -> Dict[Tuple[str, str, str], Tuple[float, str]]:
    return {(test["test"], test["backend"], name): (metric["value"], metric["unit"])
            for test in report["tests"] for name, metric in test["metrics"].items() if metric.get("value") is not None}


if __name__ == "__main__":
    sys.exit(main())
