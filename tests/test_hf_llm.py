"""aot_llm on eager, inductor and cudagraph with the tiny model: tokens, metrics, reuse, recompiles.

The shapes are the example suite's CPU shapes (batch 4, prompt 32, output 32), so the Inductor
graphs compiled here and there are the same and the second compile of a run is a warm one.
"""

import pytest
import torch
from llm_metrics import metrics_by_name

from pytest_aotperf.backends import BackendUnsupported, create_backend
from pytest_aotperf.llm.agreement import agreement
from pytest_aotperf.llm.metrics import prompt_token_ids
from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan
from pytest_aotperf.recorder import PerfRecorder, compiled_graph_count

BATCH, PROMPT_LEN, OUTPUT_LEN = 4, 32, 32
FIRST_TOKENS = 16
"""How many tokens are compared with transformers' own generate."""


def new_recorder(name, device="cpu"):
    return PerfRecorder(name, device, CpuTimer(), SamplingPlan())


@pytest.fixture(scope="module")
def eager():
    backend = create_backend("eager")
    recorder = new_recorder("eager")
    runner = backend.llm("tiny-llama", recorder)
    generation = runner.generate(BATCH, PROMPT_LEN, OUTPUT_LEN, warmup=0, iterations=2)
    yield runner, generation, recorder
    backend.close()


def test_eager_tokens_are_transformers_own_greedy_tokens(eager):
    runner, generation, _ = eager
    model = runner.model
    prompt = torch.tensor(prompt_token_ids(model.config.vocab_size, BATCH, PROMPT_LEN, seed=0))
    model.generation_config.eos_token_id = None  # generate exactly as many tokens as asked, as the runner does
    with torch.no_grad():
        expected = model.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=FIRST_TOKENS, do_sample=False, pad_token_id=0
        )[:, PROMPT_LEN:].tolist()
    ours = [list(row[:FIRST_TOKENS]) for row in generation.token_ids]
    result = agreement(model, prompt.tolist(), expected, ours)
    assert result.tie, result.describe()


def test_eager_records_the_vllm_runners_metrics_and_says_why_others_are_unavailable(eager):
    _, generation, recorder = eager
    assert len(generation.latency_s) == 2 and len(generation.token_ids) == BATCH
    assert all(len(tokens) == OUTPUT_LEN for tokens in generation.token_ids)
    metrics = metrics_by_name(recorder)
    for name in ("latency", "ttft", "tpot", "output_tokens_per_s", "engine_build_s", "model_build_s"):
        assert metrics[name].available and metrics[name].value > 0, name
    assert dict(metrics["latency"].context) == {"batch_size": BATCH, "prompt_len": PROMPT_LEN, "output_len": OUTPUT_LEN}
    assert metrics["build_host_peak_rss"].value > 0  # the model's weights, recorded for every test handed it
    assert metrics["compile_s"].unavailable == "the eager backend compiles nothing"
    assert "captures no CUDA graphs" in metrics["cudagraph_capture_s"].unavailable
    assert recorder.config["llm"]["dtype"] == "float32" and recorder.config["llm"]["backend"] == "eager"


def test_inductor_tokens_agree_with_eager_and_nothing_compiles_while_generating(eager):
    runner, eager_generation, _ = eager
    backend = create_backend("inductor")
    try:
        recorder = new_recorder("inductor")
        generation = backend.llm("tiny-llama", recorder).generate(BATCH, PROMPT_LEN, OUTPUT_LEN, warmup=1, iterations=2)
        graphs = compiled_graph_count()
        again = new_recorder("inductor-again")
        shared = backend.llm("tiny-llama", again)
        shared.generate(BATCH, PROMPT_LEN, OUTPUT_LEN, warmup=0, iterations=1)
        assert compiled_graph_count() == graphs, "the second test's generation recompiled"
    finally:
        backend.close()
    prompt = prompt_token_ids(runner.model.config.vocab_size, BATCH, PROMPT_LEN, seed=0)
    result = agreement(runner.model, prompt, eager_generation.token_ids, generation.token_ids)
    assert result.tie, result.describe()
    metrics = metrics_by_name(recorder)
    assert metrics["compile_s"].available and metrics["compile_s"].value > 0
    assert metrics["compile_s"].name in ("compile_cold_s", "compile_warm_s")
    assert dict(metrics["compile_s"].context)["built_in_this_test"] is True
    reused = metrics_by_name(again)
    assert dict(reused["compile_s"].context)["built_in_this_test"] is False
    assert dict(reused["model_build_s"].context)["built_in_this_test"] is False


@pytest.mark.parametrize(
    "option, config",
    [
        ("merge_projections", ("projections", "merged: qkv_proj, gate_up_proj")),
        ("split_argmax", ("argmax", "split: blocks of 1024, then their maxima")),
    ],
)
def test_a_decode_step_change_gives_eagers_tokens_and_says_so_in_the_config(eager, option, config):
    runner, eager_generation, _ = eager
    backend = create_backend("inductor")
    try:
        changed = backend.llm("tiny-llama", new_recorder(option), **{option: True})
        generation = changed.generate(BATCH, PROMPT_LEN, OUTPUT_LEN, warmup=0, iterations=1)
        layer = changed.model.model.layers[0]
        layer_types = (type(layer.self_attn).__name__, type(layer.mlp).__name__)
        assert (layer_types == ("MergedLlamaAttention", "MergedLlamaMLP")) == (option == "merge_projections")
        assert changed.effective_config[config[0]] == config[1]
    finally:
        backend.close()
    prompt = prompt_token_ids(runner.model.config.vocab_size, BATCH, PROMPT_LEN, seed=0)
    result = agreement(runner.model, prompt, eager_generation.token_ids, generation.token_ids)
    assert result.tie, result.describe()
    assert config[0] not in runner.effective_config


def test_options_for_another_backend_are_an_error_naming_them():
    accepted = "dtype, mode, options, merge_projections, split_argmax"
    with pytest.raises(TypeError, match=f"takes {accepted}; got 'batch_sizes'"):
        create_backend("inductor").llm("tiny-llama", new_recorder("x"), batch_sizes=[1])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without CUDA")
def test_cudagraph_without_cuda_is_unsupported():
    backend = create_backend("cudagraph")
    assert backend.runs_llms
    with pytest.raises(BackendUnsupported, match="CUDA graphs need a CUDA device"):
        backend.llm("tiny-llama", new_recorder("cg"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("merge_projections", [False, True], ids=["separate", "merged"])
def test_cudagraph_pads_the_batch_replays_the_decode_graph_and_agrees_with_eager(dtype, merge_projections):
    batch = 3  # padded up to the captured 4
    tokens = {}
    for name in ("eager", "cudagraph"):
        backend = create_backend(name)
        recorder = new_recorder(name, "cuda")
        merged = {"merge_projections": True} if merge_projections and name == "cudagraph" else {}
        runner = backend.llm("tiny-llama", recorder, dtype=dtype, **merged)
        tokens[name] = runner.generate(batch, PROMPT_LEN, OUTPUT_LEN, warmup=1, iterations=2).token_ids
        if name == "cudagraph":
            graphs = recorder.config["llm"]["decode_graphs"]
            assert graphs["ungraphed_calls"] == 0
            assert graphs["replays"] == graphs["padded_calls"] == 3 * (OUTPUT_LEN - 1)
            metrics = metrics_by_name(recorder)
            assert metrics["cudagraph_capture_s"].value > 0 and metrics["cudagraph_memory"].value > 0
            assert dict(metrics["engine_build_s"].context)["captured_batch"] == "4"
            prompt = prompt_token_ids(runner.model.config.vocab_size, batch, PROMPT_LEN, seed=0)
            result = agreement(runner.model, prompt, tokens["eager"], tokens["cudagraph"])
        backend.close()
    assert result.tie, result.describe()
