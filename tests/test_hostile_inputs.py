"""Hostile values, folders and databases (issue 24): nothing is lost, nothing non-strict is written, and every
refusal is one line naming the file, test, option or marker, never a traceback."""

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from report_data import make_test, metric, report

from benchmarks.common import write_json
from pytest_aotperf.cli import main
from pytest_aotperf.history.store import APPLICATION_ID, append_run
from pytest_aotperf.interop.benchmark_json import write_benchmark_json
from pytest_aotperf.results import load_report, write_report

ROOT = Path(__file__).resolve().parents[1]
RECORDING_TEST = """
def test_op(aot_perf):
    aot_perf.record("s", 1.0)
"""


def run(pytester, *args):
    return pytester.runpytest("-p", "no:cacheprovider", "--aot-machine=m", *args)


def baseline(pytester, module, root="baselines"):
    return pytester.path / root / "m" / "none" / f"{module}.json"


def no_traceback(text):
    return "Traceback" not in text and "INTERNALERROR" not in text


def cli(capsys, *args):
    """`aotperf ARGS` in this process: the exit code and stderr, which holds one line on an error."""
    code = main([str(arg) for arg in args])
    err = capsys.readouterr().err
    assert no_traceback(err)
    return code, err


# Data lost or half-written


@pytest.mark.parametrize(
    "value, problem",
    [('float("nan")', "nan is not a finite number"), ("object()", "a object is not a JSON value")],
    ids=["nan", "object"],
)
def test_a_configuration_value_json_cannot_hold_fails_its_test_and_everything_else_is_written(pytester, value, problem):
    pytester.makepyfile(
        test_m1=RECORDING_TEST,
        test_m2=f"""
def test_a(aot_perf):
    aot_perf.record("s", 1.0)

def test_b(aot_perf):
    aot_perf.config["k"] = {value}
    aot_perf.record("s", 1.0)

def test_c(aot_perf):
    aot_perf.record("s", 1.0)
""",
        test_m3=RECORDING_TEST,
    )
    result = run(pytester, "--aot-refresh", "--aot-report=rep.json")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([f"*test_m2.py::test_b: configuration.k: {problem}*"])
    assert no_traceback(result.stdout.str())
    assert set(json.loads(baseline(pytester, "test_m2").read_text())["tests"]) == {"test_a", "test_c"}
    assert baseline(pytester, "test_m1").exists() and baseline(pytester, "test_m3").exists()
    tests = json.loads((pytester.path / "rep.json").read_text())["tests"]
    assert sorted(t["nodeid"] for t in tests) == [
        "test_m1.py::test_op",
        "test_m2.py::test_a",
        "test_m2.py::test_c",
        "test_m3.py::test_op",
    ]


def test_aotperf_refresh_with_a_bad_configuration_value_keeps_the_other_modules(pytester):
    pytester.makepyfile(
        test_m1=RECORDING_TEST,
        test_m2='def test_b(aot_perf):\n    aot_perf.config["k"] = float("inf")\n    aot_perf.record("s", 1.0)\n',
    )
    result = pytester.run(
        sys.executable, "-m", "pytest_aotperf", "refresh", "-p", "no:cacheprovider", "--aot-machine=m"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*test_m2.py::test_b: configuration.k: inf is not a finite number*"])
    assert baseline(pytester, "test_m1").exists() and not baseline(pytester, "test_m2").exists()
    assert no_traceback(result.stdout.str() + result.stderr.str())


def test_a_baseline_folder_that_cannot_be_written_writes_the_report_then_fails_naming_it(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    folder = "/proc/aotperf-baselines"  # no one may make a folder there, root included
    result = run(
        pytester, "--aot-refresh", "--aot-force-refresh", "--aot-report=rep.json", f"--aot-baseline-dir={folder}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines([f"aotperf: baselines not written: cannot write in {folder}/m/none: *"])
    assert no_traceback(result.stdout.str() + result.stderr.str())
    assert json.loads((pytester.path / "rep.json").read_text())["tests"][0]["nodeid"] == "test_m1.py::test_op"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_baseline_folder_writes_the_report_then_fails_naming_it(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    folder = pytester.path / "baselines" / "m" / "none"
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    try:
        result = run(pytester, "--aot-refresh", "--aot-force-refresh", "--aot-report=rep.json")
    finally:
        folder.chmod(0o755)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        [f"aotperf: baselines not written: cannot write {folder}/test_m1.json: Permission denied"]
    )
    assert (pytester.path / "rep.json").exists()


def test_nan_in_a_metric_context_fails_its_test_and_the_report_is_strict_json(pytester):
    pytester.makepyfile(
        test_m1="""
def test_a(aot_perf):
    aot_perf.record("s", 1.0, note=float("nan"))

def test_b(aot_perf):
    aot_perf.record("s", 1.0, note="fine")
"""
    )
    result = run(pytester, "--aot-report=rep.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_m1.py::test_a: metric 's': context.note: nan is not a finite number*"])
    text = (pytester.path / "rep.json").read_text()
    assert "NaN" not in text
    assert main(["report", str(pytester.path / "rep.json")]) == 0


def _nan_report():
    run = report(make_test("test_op[eager]", "eager", {"latency": metric(1e-3)}))
    return dataclasses.replace(run, environment={"clock": float("nan")})


def _write_benchmark_json(path, run):
    write_benchmark_json(path, run)


def _write_benchmark_common(path, run):
    write_json(path, run.to_json())


@pytest.mark.parametrize(
    "write",
    [write_report, _write_benchmark_json, _write_benchmark_common],
    ids=["report", "benchmark-json", "benchmarks"],
)
def test_no_writer_writes_a_nan_token(tmp_path, write):
    path = tmp_path / "out.json"
    with pytest.raises(ValueError, match="JSON compliant"):
        write(path, _nan_report())
    assert not path.exists()


def foreign_database(path):
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, owner TEXT)")
    return path


def tables(path):
    with sqlite3.connect(path) as connection:
        return sorted(name for (name,) in connection.execute("SELECT name FROM sqlite_master"))


def test_a_foreign_sqlite_database_as_history_stops_the_run_before_writing(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    db = foreign_database(pytester.path / "theirs.sqlite")
    result = run(pytester, f"--aot-history={db}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--aot-history: {db}: is another program's SQLite database*"])
    assert tables(db) == ["runs"]


def test_a_foreign_sqlite_database_is_refused_by_aotperf_history(tmp_path, capsys):
    db = foreign_database(tmp_path / "theirs.sqlite")
    code, err = cli(capsys, "history", "--db", db)
    assert code == 2 and f"{db}: is another program's SQLite database" in err
    assert tables(db) == ["runs"]


def test_the_history_is_marked_as_the_projects_and_an_empty_file_becomes_one(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    db = pytester.path / "history.sqlite"
    db.write_bytes(b"")
    run(pytester, f"--aot-history={db}").assert_outcomes(passed=1)
    run(pytester, f"--aot-history={db}").assert_outcomes(passed=1)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (2,)


def test_temporary_files_of_a_killed_write_are_removed_by_the_next_write(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    folder = pytester.path / "baselines" / "m" / "none"
    folder.mkdir(parents=True)
    stale = folder / ".test_m1.json.k2j4x9.tmp"
    stale.write_text('{"half": ')
    run(pytester, "--aot-refresh").assert_outcomes(passed=1)
    assert not stale.exists() and baseline(pytester, "test_m1").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_refresh_workflow_never_stages_temporary_files(tmp_path):
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "refresh-baselines.yml").read_text())
    steps = workflow["jobs"]["refresh"]["steps"]
    script = next(step["run"] for step in steps if "git add" in step.get("run", ""))
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    folder = tmp_path / "baselines" / "m" / "eager"
    folder.mkdir(parents=True)
    (folder / "test_m1.json").write_text("{}\n")
    (folder / ".test_m1.json.k2j4x9.tmp").write_text("{")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    git_add = next(line.strip() for line in script.splitlines() if line.strip().startswith("git add"))
    subprocess.run(git_add, shell=True, cwd=tmp_path, check=True)
    staged = subprocess.run(["git", "ls-files"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert staged.split() == [".gitignore", "baselines/m/eager/test_m1.json"] or staged.split() == [
        "baselines/m/eager/test_m1.json"
    ]


# Wrong values accepted, tracebacks


@pytest.mark.parametrize(
    "option",
    [
        "--aot-tolerance=1e309",
        "--aot-memory-tolerance=5000",
        "--aot-duration-tolerance=1e309%",
        "--aot-max-time=nan",
        "--aot-max-time=inf",
        "--aot-warmup=nan",
        "--aot-min-samples=99999999999999999999",
        "--aot-history-min-runs=99999999999999999999",
    ],
)
def test_non_finite_and_absurd_options_are_usage_errors_naming_the_option(pytester, option):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    result = run(pytester, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*argument {option.split('=')[0]}: *"])


@pytest.mark.parametrize(
    "marker",
    [
        'tolerance=float("nan")',
        'tolerance="1e309%"',
        "tolerance=5000",
        'metrics={"s": float("nan")}',
        'limits={"s": float("nan")}',
        'limits={"s": "1e309 ms"}',
    ],
)
def test_non_finite_and_absurd_marker_values_are_usage_errors_naming_the_test(pytester, marker):
    pytester.makepyfile(
        test_m1=f"""
import pytest

@pytest.mark.aotperf({marker})
def test_op(aot_perf):
    aot_perf.record("s", 100.0)
"""
    )
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_m1.py::test_op: @pytest.mark.aotperf: *"])


def test_an_empty_baseline_dir_is_refused(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    result = run(pytester, "--aot-refresh", "--aot-baseline-dir=")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--aot-baseline-dir: empty; name a folder*"])
    assert not (pytester.path / "m").exists()


def test_a_baseline_dir_that_is_a_file_says_so(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    (pytester.path / "notadir").write_text("")
    result = run(pytester, "--aot-baseline-dir=notadir")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--aot-baseline-dir: {pytester.path / 'notadir'} is a file, not a folder*"])


@pytest.mark.parametrize("kind", ["not-sqlite", "folder"])
def test_aotperf_history_of_something_that_is_no_database_is_one_line(tmp_path, capsys, kind):
    db = tmp_path / "db"
    if kind == "folder":
        db.mkdir()
    else:
        db.write_text("these are notes, not a database\n" * 100)
    code, err = cli(capsys, "history", "--db", db)
    assert code == 2
    assert err.startswith(f"aotperf history: {db}: ") and len(err.strip().splitlines()) == 1


def test_aotperf_history_of_an_empty_file_has_no_runs(tmp_path, capsys):
    db = tmp_path / "empty.sqlite"
    db.write_bytes(b"")
    assert main(["history", "--db", str(db)]) == 0
    assert f"no runs in {db}" in capsys.readouterr().out


def test_aotperf_history_of_a_locked_database_waits_briefly_and_says_so(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    write_report(tmp_path / "r.json", report(make_test("test_op[eager]", "eager", {"latency": metric(1e-3)})))
    append_run(db, load_report(tmp_path / "r.json"))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, err = cli(capsys, "history", "--db", db)
    finally:
        holder.close()
    assert code == 2 and "another process holds it locked" in err


def test_pytest_with_a_history_that_is_no_database_is_a_usage_error(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    (pytester.path / "not-sqlite.txt").write_text("notes\n" * 200)
    result = run(pytester, "--aot-history=not-sqlite.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--aot-history: not-sqlite.txt: *not a SQLite database*"])
    assert no_traceback(result.stdout.str() + result.stderr.str())


@pytest.fixture
def report_file(tmp_path):
    path = tmp_path / "rep.json"
    write_report(path, report(make_test("test_op[eager]", "eager", {"latency": metric(1e-3)})))
    return path


@pytest.mark.parametrize("where", ["under-a-file", "folder", "proc"])
def test_aotperf_report_to_a_place_it_cannot_write_names_the_target(tmp_path, capsys, report_file, where):
    (tmp_path / "afile").write_text("")
    (tmp_path / "afolder").mkdir()
    target = {
        "under-a-file": tmp_path / "afile" / "o.html",
        "folder": tmp_path / "afolder",
        "proc": Path("/proc/o.html"),
    }[where]
    code, err = cli(capsys, "report", report_file, "--html", target)
    assert code == 2 and err.startswith(f"aotperf report: cannot write {target}: ")
    assert ".tmp" not in err and len(err.strip().splitlines()) == 1


def test_an_aot_report_that_names_a_folder_or_lies_below_a_file_is_a_usage_error(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    (pytester.path / "out").mkdir()
    result = run(pytester, "--aot-report=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--aot-report: out is a folder; name a file*"])
    result = run(pytester, "--aot-report-md=test_m1.py/perf.md")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--aot-report-md: test_m1.py is a file, not a folder*"])


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("module", "../../escape.py", "test module path '../../escape.py' is not allowed"),
        ("machine", "../up", "machine key '../up' is not allowed"),
        ("backend", "/abs", "backend name '/abs' is not allowed"),
        ("verdicts", {}, "no verdict for latency in the report"),
        ("comparison", {"description": "head against base"}, "an `aotperf ab` report (head judged against base)"),
    ],
)
def test_refresh_from_a_report_it_must_refuse_is_one_line(tmp_path, capsys, report_file, field, value, message):
    data = json.loads(report_file.read_text())
    target = data if field in ("machine", "comparison") else data["tests"][0]
    target[field] = value
    report_file.write_text(json.dumps(data))
    code, err = cli(capsys, "refresh", "--from-reports", report_file, "--baseline-dir", tmp_path / "b")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


@pytest.fixture
def stored(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    run(pytester, "--aot-refresh").assert_outcomes(passed=1)
    return pytester.path / "baselines"


@pytest.mark.parametrize("below", ["m", "m/none"])
def test_aotperf_show_labels_machine_and_backend_from_any_folder(stored, capsys, below):
    assert main(["show", str(stored / below)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    row = next(line.split() for line in lines if "test_op" in line)
    assert header[:3] == ["machine", "backend", "test"] and row[:3] == ["m", "none", "test_op"]


def test_aotperf_show_of_a_missing_folder_is_an_error(tmp_path, capsys):
    code, err = cli(capsys, "show", tmp_path / "nowhere")
    assert code == 2 and f"{tmp_path / 'nowhere'}: no such folder" in err


@pytest.mark.parametrize(
    "call, message",
    [
        ('record("b", True)', "metric 'b': the value must be a number, not bool True"),
        ('record("s", "1.5")', "metric 's': the value must be a number, not str '1.5'"),
        ('record("s", None)', "metric 's': the value must be a number, not NoneType None"),
        ('record("", 1.0)', "a metric needs a name, not ''"),
    ],
)
def test_a_value_that_is_not_a_number_or_a_nameless_metric_is_an_error_naming_the_test(pytester, call, message):
    pytester.makepyfile(test_m1=f"def test_op(aot_perf):\n    aot_perf.{call}\n")
    result = run(pytester, "--aot-refresh")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E   *Error: test_m1.py::test_op: {message}"])
    assert not baseline(pytester, "test_m1").exists()


def test_a_baseline_in_another_unit_is_new_and_says_so(pytester):
    pytester.makepyfile(test_m1=RECORDING_TEST)
    run(pytester, "--aot-refresh").assert_outcomes(passed=1)
    pytester.makepyfile(test_m1='def test_op(aot_perf):\n    aot_perf.record("s", 1.0, unit="ms")\n')
    result = run(pytester, "-v", "--aot-report=rep.json")
    result.stdout.fnmatch_lines(["*s * - * 1 ms * new (unit-changed)*"])
    verdict = json.loads((pytester.path / "rep.json").read_text())["tests"][0]["verdicts"]["s"]
    assert "baseline was in ''" in verdict["message"]


# Size


@pytest.mark.parametrize("raw", [False, True], ids=["thinned", "raw"])
def test_the_report_keeps_samples_thinned_with_the_full_count_unless_asked(pytester, raw):
    pytester.makepyfile(
        test_m1="""
def test_op(aot_perf):
    aot_perf.record_samples("many", [1e-3 + i * 1e-9 for i in range(200_000)])
"""
    )
    result = run(pytester, "--aot-report=rep.json", *(["--aot-report-raw-samples"] if raw else []))
    result.assert_outcomes(passed=1)
    many = json.loads((pytester.path / "rep.json").read_text())["tests"][0]["metrics"]["many"]
    assert many["summary"]["n"] == 200_000
    assert len(many["samples"]) == (200_000 if raw else 200)
