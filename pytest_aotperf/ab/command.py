"""`aotperf ab [BASE] [pytest args]`: BASE in a temporary worktree and this tree, run alternately in rounds
(one pytest process per tree and round, A B B A A B ...), then head judged against base per metric."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..atomic import unwritable_reason
from ..compile_cache import point_caches_at
from ..reporting.ab_summary import ab_headline, terminal_lines
from ..reporting.html import write_html
from ..reporting.markdown import write_markdown
from ..results import ReportError, RunReport, load_report, write_report
from ..verdict import REGRESSED
from .git import (
    GitError,
    commit_of,
    default_branch,
    git,
    remove_stale_worktree,
    repository_root,
    uncommitted_digest,
    worktree,
)
from .judge import Side, ab_report
from .work_dir import ComparisonKey, WorkDir, open_work_dir

DEFAULT_ROUNDS = 3
PYTEST_TEST_FAILURES = 1
NOTHING_MEASURED = 5
"""Exit status when no round measured a test, as pytest's when it collects none: a gate that compared
nothing must not pass (a backend not installed skips every test)."""
RESERVED_OPTIONS = (
    "--aot-refresh",
    "--aot-force-refresh",
    "--aot-baseline-dir",
    "--aot-prior-runs",
    "--aot-report",
    "--aot-history",
)
"""pytest options `aotperf ab` sets itself or forbids: an A/B run reads and writes no baselines and no history."""
LOG_TAIL_LINES = 40


class AbError(RuntimeError):
    """The comparison cannot go on; the message says why."""


@dataclass(frozen=True)
class Tree:
    """One side's checkout: where pytest runs and what it imports first."""

    label: str
    root: Path
    workdir: Path
    scratch: Path


def add_ab_command(commands: Any) -> None:
    """The `ab` subcommand on the `aotperf` parser's subparsers."""
    ab = commands.add_parser(
        "ab",
        allow_abbrev=False,
        help="run BASE and this tree alternately on this machine and judge this tree against BASE",
        description=(
            "aotperf ab [BASE] [options] [pytest args]: BASE is a git ref (default: the merge base with the "
            "default branch); the other arguments go to both trees' pytest runs."
        ),
    )
    ab.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, metavar="K", help="rounds per tree (default 3)")
    ab.add_argument("--report-json", type=Path, metavar="PATH", help="the comparison as a JSON report")
    ab.add_argument("--report-md", type=Path, metavar="PATH", help="the comparison as a Markdown summary")
    ab.add_argument("--report-html", type=Path, metavar="PATH", help="the comparison as an HTML page")
    ab.add_argument(
        "--work-dir",
        type=Path,
        metavar="DIR",
        help=(
            "keep the comparison in DIR (base's worktree, compile caches, each round's report) and go on with it: "
            "a later run of the same comparison runs only the rounds DIR lacks (default: a temporary folder)"
        ),
    )


def run_ab(args: argparse.Namespace, rest: Sequence[str]) -> int:
    """Run the comparison; 1 when anything regressed or a head round had failing tests, 2 on errors,
    5 when no round measured a test."""
    if args.rounds < 1:
        print("aotperf ab: --rounds must be at least 1", file=sys.stderr)
        return 2
    for option, path in _outputs(args).items():
        reason = unwritable_reason(path)
        if reason:  # told now, not after an hour of rounds
            print(f"aotperf ab: {option}: {reason}", file=sys.stderr)
            return 2
    try:
        report, head_failed = compare(Path.cwd(), list(rest), args.rounds, args.work_dir)
    except (AbError, GitError, ReportError, ValueError) as error:
        print(f"aotperf ab: {error}", file=sys.stderr)
        return 2
    print("\n".join(terminal_lines(report)))
    comparison = report.comparison or {}
    if comparison.get("only_in_base"):
        print(f"only in base (not judged): {', '.join(comparison['only_in_base'])}")
    print(f"aotperf ab: {ab_headline(report)}. {report.comparison_description}")
    _write_outputs(args, report)
    if not report.tests:
        print(
            "aotperf ab: no round measured a test (every selected test skipped): nothing was compared; "
            "see a round's log with --work-dir",
            file=sys.stderr,
        )
        return NOTHING_MEASURED
    regressed = any(v.status == REGRESSED for test in report.tests for v in test.verdicts)
    return 1 if regressed or head_failed else 0


def compare(workdir: Path, rest: List[str], rounds: int, kept: Optional[Path] = None) -> Tuple[RunReport, bool]:
    """The A/B report, and whether any head round had failing tests. With `kept` (--work-dir), the rounds
    finished there by an earlier run of the same comparison are read back, not run again."""
    root = repository_root(workdir)
    ref, pytest_args = split_base(root, rest)
    reserved = [a for a in pytest_args if a.split("=", 1)[0] in RESERVED_OPTIONS]
    if reserved:
        raise AbError(f"{', '.join(reserved)}: not allowed; an A/B run sets its own reports and reads no baselines")
    if ref is None:
        branch = default_branch(root)
        ref, base_commit = f"merge base with {branch}", git(root, "merge-base", "HEAD", branch)
    else:
        base_commit = commit_of(root, ref) or ""
    print(f"aotperf ab: base {base_commit[:12]} ({ref}), head {root} (working tree), {rounds} round(s) each")
    with _work_dir(kept, root, base_commit, pytest_args) as folder:
        base_tree = folder.path / "base-tree"
        if kept is not None:
            remove_stale_worktree(root, base_tree)
        with worktree(root, base_commit, base_tree) as base_root:
            relative = workdir.resolve().relative_to(root.resolve())
            base = Tree("base", base_root, base_root / relative, folder.path / "base")
            head = Tree("head", root, workdir, folder.path / "head")
            reports: Dict[str, List[RunReport]] = {"base": [], "head": []}
            head_failed = False
            for number, tree in _schedule(base, head, rounds):
                code = folder.exit_code(tree.label, number)
                if code is None:
                    code = _run_round(tree, number, rounds, pytest_args, folder, reports[tree.label])
                    folder = folder.with_round(tree.label, number, code)
                else:
                    _read_round(tree, number, rounds, folder, code, reports[tree.label])
                head_failed |= tree is head and code == PYTEST_TEST_FAILURES
    head_commit = reports["head"][-1].environment.get("commit") or "unknown"
    report = ab_report(Side("base", base_commit, reports["base"]), Side("head", head_commit, reports["head"]), ref)
    return report, head_failed


@contextmanager
def _work_dir(kept: Optional[Path], root: Path, base_commit: str, pytest_args: Sequence[str]) -> Iterator[WorkDir]:
    """--work-dir's folder, opened for this comparison, or a temporary one removed afterwards."""
    if kept is None:
        with tempfile.TemporaryDirectory(prefix="aotperf-ab-") as scratch:
            yield WorkDir(Path(scratch), ComparisonKey(base_commit, "", "", tuple(pytest_args)))
        return
    kept = kept.resolve()  # the rounds' pytest runs in each tree's folder
    head_commit = git(root, "rev-parse", "HEAD")
    key = ComparisonKey(base_commit, head_commit, uncommitted_digest(root, kept), tuple(pytest_args))
    yield open_work_dir(kept, key)


def split_base(root: Path, rest: Sequence[str]) -> Tuple[Optional[str], List[str]]:
    """BASE (the first argument, when it is not an option and names a commit) and the pytest arguments."""
    if not rest or rest[0].startswith("-"):
        return None, list(rest)
    if commit_of(root, rest[0]):
        return rest[0], list(rest[1:])
    if rest[0] and Path(rest[0].split("::")[0]).exists():
        return None, list(rest)
    raise AbError(f"BASE {rest[0]!r} names no commit in {root} (nor is it a path for pytest)")


def _schedule(base: Tree, head: Tree, rounds: int) -> List[Tuple[int, Tree]]:
    """A B, then B A, then A B, ...: each tree goes first in every other round."""
    order: List[Tuple[int, Tree]] = []
    for number in range(1, rounds + 1):
        pair = (base, head) if number % 2 else (head, base)
        order += [(number, pair[0]), (number, pair[1])]
    return order


def _run_round(
    tree: Tree, number: int, rounds: int, pytest_args: Sequence[str], folder: WorkDir, reports: List[RunReport]
) -> int:
    """One pytest process of one tree; its report joins `reports`. Raises when pytest could not run the tests."""
    report, log = folder.report(tree.label, number), folder.log(tree.label, number)
    command = round_command(pytest_args, report, folder.path / "no-baselines")
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as output:
        code = subprocess.call(command, cwd=tree.workdir, env=_environment(tree), stdout=output, stderr=output)
    seconds = time.monotonic() - started
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:])
    if code not in (0, PYTEST_TEST_FAILURES) or not report.exists():
        raise AbError(f"round {number} of {tree.label}: pytest exit code {code}, no report; its output ends:\n{tail}")
    data = load_report(report)
    reports.append(data)
    print(
        f"round {number}/{rounds} {tree.label}: {len(data.tests)} measured test(s), pytest exit code {code}, "
        f"{seconds:.0f} s"
    )
    if code == PYTEST_TEST_FAILURES:
        print(f"round {number} of {tree.label}: tests failed; pytest's output ends:\n{tail}")
    return code


def _read_round(tree: Tree, number: int, rounds: int, folder: WorkDir, code: int, reports: List[RunReport]) -> None:
    """A round an earlier run finished in --work-dir: its report joins `reports`."""
    reports.append(load_report(folder.report(tree.label, number)))
    print(f"round {number}/{rounds} {tree.label}: kept in {folder.path}, pytest exit code {code}")


def round_command(pytest_args: Sequence[str], report: Path, baseline_dir: Path) -> List[str]:
    """One round's pytest command line. Its compile caches are kept (`keep`) in the folders `_environment`
    names, the tree's own: empty in the tree's first round, which compiles cold, and warm after it.
    A `--aot-compile-cache` in `pytest_args` comes later and wins."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "--aot-compile-cache=keep",
        *pytest_args,
        f"--aot-report={report}",
        f"--aot-baseline-dir={baseline_dir}",
    ]


def _environment(tree: Tree) -> Mapping[str, str]:
    """This process's environment, with the tree's own compile caches (kept over its rounds by
    --aot-compile-cache=keep) and the tree first on the import path."""
    environment = dict(os.environ)
    point_caches_at(tree.scratch, environment)
    paths = [str(p) for p in (tree.root / "src", tree.root) if p.is_dir()]
    environment["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH", "")] if p])
    return environment


def _outputs(args: argparse.Namespace) -> Dict[str, Path]:
    """The report files asked for, by option."""
    named = {"--report-json": args.report_json, "--report-md": args.report_md, "--report-html": args.report_html}
    return {option: path for option, path in named.items() if path is not None}


def _write_outputs(args: argparse.Namespace, report: RunReport) -> None:
    if args.report_json:
        write_report(args.report_json, report)
    if args.report_md:
        write_markdown(args.report_md, report)
    if args.report_html:
        write_html(args.report_html, report)
