"""The example suite end to end, as a user runs it: refresh the baselines, then check against them."""

import fnmatch
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_tests"


@pytest.fixture
def examples(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the subprocesses test this checkout, not an installed copy
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, pytester.path / path.name)
    return pytester


def refresh_then_check(pytester, *args):
    common = ("-p", "no:cacheprovider", "--aot-machine=ci", *args)
    refreshed = pytester.runpytest_subprocess(*common, "--aot-refresh", "--aot-report=refresh.json")
    checked = pytester.runpytest_subprocess(*common, "--aot-report=check.json")
    return refreshed, checked, json.loads((pytester.path / "check.json").read_text())


def test_models_on_eager(examples):
    refreshed, checked, report = refresh_then_check(
        examples, "test_models.py", "--aot-backend=eager", "-k", "mlp", "--aot-max-time=0.2"
    )
    refreshed.assert_outcomes(passed=3)
    assert (examples.path / "baselines" / "ci" / "eager" / "test_models.json").exists()
    assert checked.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    for test in report["tests"]:
        latency = test["verdicts"]["latency"]  # every timing on a CPU-only machine moves with the host
        assert (latency["status"], latency["note"]) == ("info", "host-bound: 1 run, needs 5; shown, not judged")
        assert latency["baseline"] > 0


def test_llm_generation_on_eager_and_inductor_and_cudagraph_skips(examples):
    refreshed, checked, report = refresh_then_check(
        examples, "test_llm.py", "--aot-backend=eager,inductor,cudagraph", "-k", "4", "-rs"
    )
    refreshed.assert_outcomes(passed=2, skipped=1)
    refreshed.stdout.fnmatch_lines(["*backend cudagraph: CUDA graphs need a CUDA device*"])
    for backend, compile_metric in (("eager", "compile_s"), ("inductor", "compile_*_s")):
        stored = json.loads((examples.path / "baselines" / "ci" / backend / "test_llm.json").read_text())
        metrics = stored["tests"][f"test_generation[{backend}-4]"]["metrics"]
        assert {"latency", "ttft", "tpot", "output_tokens_per_s", "model_build_s"} <= set(metrics)
        assert metrics["output_tokens_per_s"]["value"] > 0
        assert metrics["cudagraph_capture_s"]["unavailable"] and metrics["gpu_peak_allocated"]["unavailable"]
        assert fnmatch.filter(metrics, compile_metric)
    assert checked.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    verdicts = {test["test"]: test["verdicts"] for test in report["tests"]}
    for backend in ("eager", "inductor"):
        assert verdicts[f"test_generation[{backend}-4]"]["latency"]["baseline"] > 0
        assert verdicts[f"test_generation[{backend}-4]"]["tpot"]["status"] == "info"


@pytest.mark.vllm
def test_llm_generation_on_vllms_cpu_engine(examples):
    pytest.importorskip("vllm")
    refreshed, checked, report = refresh_then_check(examples, "test_llm.py", "--aot-backend=vllm")
    refreshed.assert_outcomes(passed=2)
    measured = {t["test"]: t["metrics"] for t in json.loads((examples.path / "refresh.json").read_text())["tests"]}
    built, handed = measured["test_generation[vllm-1]"], measured["test_generation[vllm-4]"]
    assert built["build_host_peak_rss"] == handed["build_host_peak_rss"]  # the engine's, whichever test built it
    stored = json.loads((examples.path / "baselines" / "ci" / "vllm" / "test_llm.json").read_text())
    entry = stored["tests"]["test_generation[vllm-4]"]
    assert entry["config"]["llm"]["llm_kwargs"]["load_format"] == "safetensors"
    assert entry["metrics"]["output_tokens_per_s"]["value"] > 0
    assert {"latency", "ttft", "tpot", "output_tokens_per_s"} <= set(entry["metrics"])
    assert entry["metrics"]["cudagraph_capture_s"]["unavailable"]
    assert checked.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    verdicts = {test["test"]: test["verdicts"] for test in report["tests"]}
    assert verdicts["test_generation[vllm-4]"]["latency"]["baseline"] > 0
    assert verdicts["test_generation[vllm-4]"]["latency"]["status"] == "info"  # a CPU timing: host speed
