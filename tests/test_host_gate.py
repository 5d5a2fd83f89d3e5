"""The default gate on a CPU machine, end to end: host-speed timings judged by their own spread, host work
counted exactly, an environment that changed named. Each run is its own process, as a nightly's are."""

import json
import shutil
import sys
from pathlib import Path

import pytest
from fake_timer import CONFTEST

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_tests"
COMMON = ("-p", "no:cacheprovider", "--aot-machine=ci", "test_models.py", "--aot-max-time=0.1", "--aot-warmup=0.01")
MLP_4 = ("-k", "mlp and 4")


@pytest.fixture
def examples(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the subprocesses test this checkout, not an installed copy
    # One intra-op thread: on a shared 2-core machine, torch's spinning worker threads against another
    # process's turned a 258 µs call into 40 ms (a CI run beside a vLLM CPU engine).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for knob in ("EXTRA_BLOCK", "HOOKS", "GRAPH_BREAK"):
        monkeypatch.delenv(f"AOTPERF_EXAMPLE_{knob}", raising=False)
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, pytester.path / path.name)
    return pytester


def check(pytester, *args):
    """A checking run in its own process: its outcome and its report's verdicts by test."""
    result = pytester.runpytest_subprocess(*COMMON, *MLP_4, "--aot-report=check.json", *args)
    report = json.loads((pytester.path / "check.json").read_text())
    return result, {test["test"]: test["verdicts"] for test in report["tests"]}


# Latency (µs) of the eager MLP at batch 4 in processes run one after another on the 2-core CPU machine
# (2026-12-05): five recorded a baseline, the first five of eight checked it. Replayed, not timed: CI's shared
# cores once ran a checking process 1.6x slower than five recording runs within a few percent (a band from five
# runs cannot tell that from a slower commit), and a test must not hang on the host's mood (docs/benchmarks.md,
# section 16).
RECORDED_US = (234.0, 232.6, 227.7, 261.5, 228.5)
CHECKED_US = (234.0, 239.8, 228.6, 259.8, 247.5)


@pytest.fixture
def replayed(examples, monkeypatch):
    """The examples with each process's latency taken from `per_process.txt`, one line a process."""
    examples.makeconftest(CONFTEST)
    monkeypatch.setenv("AOT_FAKE_MS_PER_PROCESS", str(examples.path / "per_process.txt"))

    def replay(latencies_us):
        (examples.path / "per_process.txt").write_text("".join(f"{us / 1000}\n" for us in latencies_us))

    return examples, replay


def record_five_runs(examples, replay):
    replay(RECORDED_US)
    recorded = examples.run(
        sys.executable, "-m", "pytest_aotperf", "refresh", "--runs", "5", *COMMON, *MLP_4, "--aot-backend=eager"
    )
    assert recorded.ret == 0, recorded.stdout.str()
    stored = json.loads((examples.path / "baselines/ci/eager/test_models.json").read_text())
    latency = stored["tests"]["test_model[eager-mlp-4]"]["metrics"]["latency"]
    assert latency["host_speed"] is True
    assert [round(run * 1e6, 1) for run in latency["runs"]] == list(RECORDED_US)


def test_an_unchanged_host_bound_test_passes_in_five_processes(replayed):
    examples, replay = replayed
    record_five_runs(examples, replay)
    for latency_us in CHECKED_US:
        replay([latency_us])
        result, verdicts = check(examples, "--aot-backend=eager", "--aot-host-timings=spread")
        assert result.ret == 0, result.stdout.str()
        judged = verdicts["test_model[eager-mlp-4]"]
        assert judged["latency"]["status"] == judged["throughput"]["status"] == "unchanged"
        assert judged["latency"]["reference"] == judged["throughput"]["reference"] == "baseline runs mean"
        assert judged["latency"]["note"] == "baseline runs band from 5 runs (99.99% prediction interval)"
        assert judged["aten_ops_per_call"]["status"] == judged["python_calls_per_call"]["status"] == "unchanged"


def test_a_host_bound_test_three_times_as_slow_fails_by_its_band(replayed):
    examples, replay = replayed
    record_five_runs(examples, replay)
    replay([3 * CHECKED_US[0]])  # five runs' spread of 15% allows +165% at 99.99%: t(4) is wide
    result, verdicts = check(examples, "--aot-backend=eager", "--aot-host-timings=spread")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert verdicts["test_model[eager-mlp-4]"]["latency"]["status"] == "regressed"
    result.stdout.fnmatch_lines(["*eager-mlp-4*latency 702 µs vs baseline runs mean 237 µs*band from 5 runs*"])


@pytest.fixture
def recorded_once(examples):
    """Baselines of one run of the MLP at batch 4 on eager and inductor."""
    result = examples.runpytest_subprocess(*COMMON, *MLP_4, "--aot-backend=eager,inductor", "--aot-refresh")
    assert result.ret == 0, result.stdout.str()
    return examples


def test_a_host_speed_timing_with_one_recorded_run_is_shown_not_judged(recorded_once):
    result, verdicts = check(recorded_once, "--aot-backend=eager,inductor")
    assert result.ret == 0
    inductor = verdicts["test_model[inductor-mlp-4]"]
    for metric in ("latency", "throughput", "compile_s"):
        assert inductor[metric]["status"] == "info"
        assert inductor[metric]["note"] == "host-bound: 1 run, needs 5; shown, not judged"
    assert inductor["graphs"]["status"] == inductor["fx_calls"]["status"] == "unchanged"


def test_the_fixed_tolerance_comes_back_with_the_option(recorded_once):
    _, verdicts = check(recorded_once, "--aot-backend=eager", "--aot-host-timings=tolerance")
    latency = verdicts["test_model[eager-mlp-4]"]["latency"]
    assert latency["status"] in ("unchanged", "improved", "regressed", "noisy")
    assert "host-bound" not in latency.get("note", "")


@pytest.mark.parametrize(
    "knob, count",
    [("HOOKS", "python_calls_per_call"), ("EXTRA_BLOCK", "aten_ops_per_call")],
    ids=["forward hooks", "one more op per call"],
)
def test_host_side_regressions_fail_by_a_host_count(recorded_once, monkeypatch, knob, count):
    monkeypatch.setenv(f"AOTPERF_EXAMPLE_{knob}", "1")
    result, verdicts = check(recorded_once, "--aot-backend=eager")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert verdicts["test_model[eager-mlp-4]"][count]["status"] == "regressed"
    result.stdout.fnmatch_lines([f"*test_model?eager-mlp-4?*{count}*exact*"])


def test_one_more_graph_break_fails_exactly(recorded_once, monkeypatch):
    monkeypatch.setenv("AOTPERF_EXAMPLE_GRAPH_BREAK", "1")
    result, verdicts = check(recorded_once, "--aot-backend=inductor")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    judged = verdicts["test_model[inductor-mlp-4]"]
    assert (judged["graph_breaks"]["baseline"], judged["graph_breaks"]["current"]) == (0, 1)
    result.stdout.fnmatch_lines(["*test_model?inductor-mlp-4?*graph_breaks 1 vs baseline 0*exact*"])


def test_a_changed_torch_is_named_and_its_host_counts_are_not_comparable(recorded_once):
    path = recorded_once.path / "baselines/ci/eager/test_models.json"
    stored = json.loads(path.read_text())
    stored["tests"]["test_model[eager-mlp-4]"]["environment"]["torch"] = "2.0.0"
    path.write_text(json.dumps(stored))
    result, verdicts = check(recorded_once, "--aot-backend=eager")
    assert result.ret == 0
    judged = verdicts["test_model[eager-mlp-4]"]
    for count in ("aten_ops_per_call", "python_calls_per_call"):
        assert judged[count]["status"] == "info"
        assert judged[count]["note"].startswith("not comparable across torch 2.0.0 -> ")
    assert "environment-changed" in judged["host_peak_rss"]["flags"]
    assert "environment changed: torch 2.0.0 -> " in judged["recompilations"]["note"]


def test_on_a_shared_machine_host_speed_timings_are_shown_and_host_counts_still_judged(replayed):
    examples, replay = replayed
    record_five_runs(examples, replay)
    replay([3 * CHECKED_US[0]])
    result, verdicts = check(examples, "--aot-backend=eager", "--aot-host-timings=info")
    assert result.ret == 0, result.stdout.str()
    judged = verdicts["test_model[eager-mlp-4]"]
    assert (judged["latency"]["status"], judged["latency"]["note"]) == (
        "info",
        "host-bound: shown, not judged (host_timings='info')",
    )
    assert judged["aten_ops_per_call"]["status"] == judged["python_calls_per_call"]["status"] == "unchanged"
