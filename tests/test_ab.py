"""`aotperf ab`: base and head measured alternately in one job, head judged against base per metric."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from pytest_aotperf.ab.command import Tree, _schedule, round_command, split_base
from pytest_aotperf.ab.git import uncommitted_digest
from pytest_aotperf.ab.judge import Side, ab_report, judge_rounds, pool
from pytest_aotperf.ab.work_dir import MANIFEST, ComparisonKey, WorkDirError, open_work_dir
from pytest_aotperf.cli import main
from pytest_aotperf.metrics import Metric
from pytest_aotperf.results import PerfTestId, PerfTestResult, RunReport
from pytest_aotperf.verdict import IMPROVED, INFO, NEW, REGRESSED, UNCHANGED, Verdict

ROOT = Path(__file__).resolve().parents[1]
JITTER = (1.0, 0.99, 1.01, 0.995, 1.005)


def timing(ms, rounds=3):
    """Per round, a latency metric whose samples sit around `ms` (one value per round, or the same each round)."""
    levels = ms if isinstance(ms, (list, tuple)) else [ms] * rounds
    return [Metric.from_samples("latency", [level * 1e-3 * j for j in JITTER * 4]) for level in levels]


def test_rounds_are_pooled_into_one_sample_set_and_values_into_their_median():
    pooled = pool(timing([1.0, 2.0, 3.0]))
    assert len(pooled.samples) == 60 and pooled.value == pytest.approx(2e-3)
    counts = [Metric("replays", "", "lower", "value", value=v, flags=f) for v, f in ((5, ()), (9, ("x",)), (6, ()))]
    assert pool(counts).value == 6 and pool(counts).flags == ("x",)


def test_head_is_judged_against_base_with_bases_round_spread_added():
    assert judge_rounds(timing(1.0), timing(1.5), tolerance=0.10).status == REGRESSED
    assert judge_rounds(timing(1.0), timing(0.5), tolerance=0.10).status == IMPROVED
    assert judge_rounds(timing(1.0), timing(1.05), tolerance=0.10).status == UNCHANGED
    spread = judge_rounds(timing([1.0, 1.2, 0.9]), timing(1.3), tolerance=0.10)
    assert spread.drift == pytest.approx(0.2) and spread.status == UNCHANGED
    assert judge_rounds([], timing(1.0), tolerance=0.10).status == NEW


def test_the_trees_alternate_so_each_goes_first_in_every_other_round():
    a, b = (Tree(label, Path(label), Path(label), Path(label)) for label in "AB")
    assert "".join(tree.label for _, tree in _schedule(a, b, 3)) == "ABBAAB"


def round_report(compile_s, latency_ms, host_timings="tolerance"):
    """One round's report of one test: a cold or warm compile time and a latency."""
    metrics = (
        Metric("compile_s", "s", "lower", "duration", value=compile_s),
        timing(latency_ms, rounds=1)[0],
    )
    verdicts = tuple(Verdict(m.name, NEW, m.value, None, m.unit, 0.25) for m in metrics)
    test = PerfTestResult(
        PerfTestId("t.py::test_m[inductor]", "t.py", "test_m[inductor]", "inductor"), metrics, verdicts, ()
    )
    return RunReport("m", {}, {"host_timings": host_timings}, (), (test,))


def test_compile_times_are_judged_from_each_trees_first_round_alone_other_metrics_from_all():
    base = Side("base", "b" * 40, [round_report(10.0, 1.0), round_report(1.0, 1.0), round_report(1.0, 1.0)])
    head = Side("head", "h" * 40, [round_report(10.0, 2.0), round_report(2.0, 2.0), round_report(2.0, 2.0)])
    report = ab_report(base, head, "main")
    (test,) = report.tests
    compile_s, latency = (next(v for v in test.verdicts if v.metric == name) for name in ("compile_s", "latency"))
    assert (compile_s.status, compile_s.baseline, compile_s.current) == (UNCHANGED, 10.0, 10.0)
    assert latency.status == REGRESSED and len(test.metric("latency").samples) == 60
    assert "first round only (a cold compile)" in report.comparison_description


def test_under_the_spread_rule_compile_times_stay_information_however_many_rounds():
    rounds = [round_report(10.0, 1.0, host_timings="spread") for _ in range(5)]
    report = ab_report(Side("base", "b" * 40, rounds), Side("head", "h" * 40, rounds), "main")
    (compile_s,) = (v for v in report.tests[0].verdicts if v.metric == "compile_s")
    assert compile_s.status == INFO and "compile, capture and build times" in report.comparison_description


def test_under_the_info_rule_host_speed_timings_are_shown_other_timings_judged():
    base = Side("base", "b" * 40, [round_report(10.0, 1.0, host_timings="info") for _ in range(5)])
    head = Side("head", "h" * 40, [round_report(20.0, 3.0, host_timings="info") for _ in range(5)])
    report = ab_report(base, head, "main")
    # compile_s is a one-shot duration, so host speed; this latency is not marked host-bound
    assert {v.metric: v.status for v in report.tests[0].verdicts} == {"compile_s": INFO, "latency": REGRESSED}
    assert "are shown as information (info)" in report.comparison_description


def test_every_round_keeps_its_trees_compile_caches_unless_the_arguments_say_otherwise(tmp_path):
    command = round_command(["-q", "--aot-compile-cache=fresh"], tmp_path / "r.json", tmp_path / "none")
    assert command[3:] == [
        "--aot-compile-cache=keep",
        "-q",
        "--aot-compile-cache=fresh",
        f"--aot-report={tmp_path / 'r.json'}",
        f"--aot-baseline-dir={tmp_path / 'none'}",
    ]


TEST_FILE = """
import os

import pytest

SCORE = {score}


def test_score(aot_perf):
    if os.environ.get("AB_TEST_SKIP"):
        pytest.skip("as a backend that is not installed")
    aot_perf.record("score", SCORE, unit="s")
    aot_perf.record("steady", 7.0, unit="s")
"""


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """main: score 1 ms; branch `slower` (checked out): score 2 ms."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pytest.ini").write_text("[pytest]\n")
    (repo / "test_perf.py").write_text(TEST_FILE.format(score=1e-3))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "slower")
    (repo / "test_perf.py").write_text(TEST_FILE.format(score=2e-3))
    git(repo, "commit", "-q", "-am", "slower")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the subprocesses load this checkout's plugin
    return repo


def test_aotperf_ab_runs_both_commits_alternately_and_fails_on_the_regression(repo, tmp_path, capsys):
    out_json, out_md = tmp_path / "ab.json", tmp_path / "ab.md"
    code = main(
        ["ab", "--rounds", "2", "--report-json", str(out_json), "--report-md", str(out_md), "-p", "no:cacheprovider"]
    )
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert printed.index("Regressions: 1") < printed.index("Improvements: none") < printed.index("By metric group:")
    assert "  other: 2 judged, 0 information" in printed and "  memory: 1 judged, 4 information" in printed
    assert "aotperf ab: 1 regressed, 0 improved, 2 unchanged; 4 shown as information." in printed
    base = subprocess.run(["git", "rev-parse", "main"], cwd=repo, capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    rounds = [line.split(":")[0] for line in printed.splitlines() if line.startswith("round ")]
    assert rounds == ["round 1/2 base", "round 1/2 head", "round 2/2 head", "round 2/2 base"]
    round_lines = [line for line in printed.splitlines() if line.startswith("round ")]
    assert all(re.fullmatch(r"round .*, pytest exit code \d, \d+ s", line) for line in round_lines), round_lines
    report = json.loads(out_json.read_text())
    assert report["comparison"]["base"] == {"ref": "merge base with main", "commit": base}
    assert report["comparison"]["head"]["commit"] == head and report["comparison"]["rounds"] == 2
    (test,) = report["tests"]
    assert test["verdicts"]["score"]["status"] == REGRESSED and test["verdicts"]["score"]["baseline"] == 1e-3
    rounds_of_score = report["comparison"]["round_values"][test["nodeid"]]["score"]
    assert rounds_of_score["base"] == pytest.approx([1e-3, 1e-3]) and rounds_of_score["head"] == pytest.approx(
        [2e-3] * 2
    )
    assert test["verdicts"]["steady"]["status"] == UNCHANGED
    assert "score 2.00 ms vs baseline 1.00 ms (+100.0%" in test["failures"][0]
    markdown = out_md.read_text()
    assert markdown.startswith("## aotperf A/B: 1 regressed, 0 improved, 2 unchanged; 4 shown as information")
    assert f"head {head[:12]} against base {base[:12]}" in markdown
    assert not (repo / "baselines").exists()
    assert (
        "base-tree" not in subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    )


def test_base_is_a_ref_or_a_pytest_path_and_reserved_options_are_refused(repo, capsys):
    assert split_base(repo, ["main", "-q"]) == ("main", ["-q"])
    assert split_base(repo, ["test_perf.py::test_score"]) == (None, ["test_perf.py::test_score"])
    assert split_base(repo, ["-k", "score"]) == (None, ["-k", "score"])
    assert main(["ab", "mian"]) == 2
    assert "BASE 'mian' names no commit" in capsys.readouterr().err
    assert main(["ab", "main", "--aot-history=h.sqlite"]) == 2
    assert "--aot-history=h.sqlite: not allowed" in capsys.readouterr().err


def test_a_comparison_that_measured_no_test_fails(repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AB_TEST_SKIP", "1")
    out_md = tmp_path / "ab.md"
    assert main(["ab", "main", "--rounds", "1", "--report-md", str(out_md), "-p", "no:cacheprovider"]) == 5
    captured = capsys.readouterr()
    assert "round 1/1 head: 0 measured test(s), pytest exit code 0" in captured.out
    assert "aotperf ab: no round measured a test (every selected test skipped)" in captured.err
    assert out_md.read_text().startswith("## aotperf A/B: 0 regressed, 0 improved, 0 unchanged")


def test_a_report_that_can_never_be_written_is_refused_before_any_round(repo, tmp_path, capsys):
    (tmp_path / "afile").write_text("kept")
    for option, target, reason in (
        ("--report-json", tmp_path, f"{tmp_path} is a folder; name a file"),
        ("--report-md", tmp_path / "afile" / "ab.md", f"{tmp_path / 'afile'} is a file, not a folder"),
    ):
        assert main(["ab", "main", option, str(target), "-p", "no:cacheprovider"]) == 2
        captured = capsys.readouterr()
        assert captured.err.strip() == f"aotperf ab: {option}: {reason}"
        assert "round" not in captured.out
    assert (tmp_path / "afile").read_text() == "kept"


def round_lines(printed):
    return [line for line in printed.splitlines() if line.startswith("round ")]


def test_a_kept_comparison_goes_on_with_the_rounds_its_folder_lacks(repo, tmp_path, capsys):
    kept, out_json = tmp_path / "kept", tmp_path / "ab.json"
    assert main(["ab", "main", "--rounds", "1", "--work-dir", str(kept), "-p", "no:cacheprovider"]) == 1
    assert [line.split(":")[0] for line in round_lines(capsys.readouterr().out)] == ["round 1/1 base", "round 1/1 head"]
    manifest = json.loads((kept / MANIFEST).read_text())
    assert manifest["finished_rounds"] == {"base-1": 0, "head-1": 0}
    (kept / "base-tree").mkdir()  # as a run stopped by a time limit leaves it
    (kept / "base-tree" / "left.txt").write_text("from the stopped run")
    code = main(
        [
            "ab",
            "main",
            "--rounds",
            "2",
            "--work-dir",
            str(kept),
            "--report-json",
            str(out_json),
            "-p",
            "no:cacheprovider",
        ]
    )
    printed = round_lines(capsys.readouterr().out)
    assert code == 1
    assert printed[:2] == [
        f"round 1/2 base: kept in {kept}, pytest exit code 0",
        f"round 1/2 head: kept in {kept}, pytest exit code 0",
    ]
    assert [line.split(":")[0] for line in printed[2:]] == ["round 2/2 head", "round 2/2 base"]
    (test,) = json.loads(out_json.read_text())["tests"]
    rounds_of_score = json.loads(out_json.read_text())["comparison"]["round_values"][test["nodeid"]]["score"]
    assert rounds_of_score == {"base": pytest.approx([1e-3] * 2), "head": pytest.approx([2e-3] * 2)}
    assert sorted(json.loads((kept / MANIFEST).read_text())["finished_rounds"]) == [
        "base-1",
        "base-2",
        "head-1",
        "head-2",
    ]
    assert not (kept / "base-tree").exists()


def test_a_kept_folder_of_another_comparison_or_of_anything_else_is_refused_and_left_as_it_is(repo, tmp_path, capsys):
    kept = tmp_path / "kept"
    assert main(["ab", "main", "--rounds", "1", "--work-dir", str(kept), "-p", "no:cacheprovider"]) == 1
    capsys.readouterr()
    before = (kept / MANIFEST).read_text()
    (repo / "test_perf.py").write_text(TEST_FILE.format(score=3e-3))  # head changed, not committed
    assert main(["ab", "main", "--rounds", "2", "--work-dir", str(kept), "-p", "no:cacheprovider"]) == 2
    assert f"--work-dir {kept}: it holds another comparison (head_changes differ" in capsys.readouterr().err
    assert main(["ab", "main", "--rounds", "2", "--work-dir", str(kept), "-q"]) == 2
    assert "pytest_args differ" in capsys.readouterr().err
    assert (kept / MANIFEST).read_text() == before
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_text("meow")
    assert main(["ab", "main", "--work-dir", str(other)]) == 2
    assert f"--work-dir {other}: not empty and holds no {MANIFEST}" in capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["cat.jpg"]


def test_a_work_folder_inside_the_tree_is_not_part_of_heads_changes(repo):
    inside = repo / "ab-work"
    inside.mkdir()
    before = uncommitted_digest(repo, inside)
    (inside / "base-1.json").write_text("{}")
    assert uncommitted_digest(repo, inside) == before
    (repo / "new_test.py").write_text("def test_new(): pass\n")
    with_new_file = uncommitted_digest(repo, inside)
    assert with_new_file != before
    (repo / "data").symlink_to(inside)  # a link to a folder is digested as the link, not followed
    assert uncommitted_digest(repo, inside) not in (before, with_new_file)


def test_an_unreadable_manifest_is_named_and_left_as_it_is(tmp_path):
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / MANIFEST).write_text('{"comparison": ')
    with pytest.raises(WorkDirError, match=f"{kept / MANIFEST}: unreadable .*name a new --work-dir"):
        open_work_dir(kept, ComparisonKey("b" * 40, "h" * 40, "", ("-q",)))
    assert (kept / MANIFEST).read_text() == '{"comparison": '
