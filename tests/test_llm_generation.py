"""The greedy loop, the static cache, the metrics and the build-time split, on fake steps and an injected clock."""

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from pytest_aotperf.llm import hf_model
from pytest_aotperf.llm.hf.engine import hf_options
from pytest_aotperf.llm.hf.generation import generate_greedy, position_tables
from pytest_aotperf.llm.hf.programs import BuildCost, cache_length, cache_state, capture_size
from pytest_aotperf.llm.hf.runner import record_shape_build
from pytest_aotperf.llm.hf.static_cache import ARGMAX_CHUNK, CacheWrite, StaticKVCache, attention_mask, greedy_tokens
from pytest_aotperf.llm.hf_model import resolve_dtype, seeded_folder
from pytest_aotperf.llm.metrics import GraphCapture, record_generation
from pytest_aotperf.llm.runner import generation_of
from pytest_aotperf.llm.specs import resolve_model
from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan
from pytest_aotperf.recorder import PerfRecorder


class FakeSteps:
    """Prefill and decode steps that log their inputs; the next token is the last position + 100."""

    def __init__(self):
        self.calls = []

    def prefill(self, tokens, positions):
        self.calls.append(("prefill", tokens.clone(), positions.clone()))
        return positions[:, -1:] + 100

    def decode(self, tokens, positions):
        self.calls.append(("decode", tokens.clone(), positions.clone()))
        return positions + 100


def no_sync():
    pass


def ticking_clock(times):
    return iter(times).__next__


def recorder():
    return PerfRecorder("t", "cpu", CpuTimer(), SamplingPlan())


def test_prefill_once_then_one_decode_per_token_at_the_next_position():
    steps = FakeSteps()
    prompt = torch.arange(6).reshape(2, 3)
    run = generate_greedy(steps.prefill, steps.decode, prompt, 4, ticking_clock([0.0, 1.0, 4.0]), no_sync)
    assert [call[0] for call in steps.calls] == ["prefill", "decode", "decode", "decode"]
    assert steps.calls[0][2].tolist() == [[0, 1, 2], [0, 1, 2]]
    # decode step i gets the token made last, at its position: prompt_len + i
    for i, (_, tokens, positions) in enumerate(steps.calls[1:]):
        assert positions.tolist() == [[3 + i], [3 + i]]
        assert tokens.tolist() == [[102 + i], [102 + i]]
    assert run.tokens.tolist() == [[102, 103, 104, 105]] * 2


def test_generation_stops_at_output_len_and_one_token_is_only_a_prefill():
    steps = FakeSteps()
    run = generate_greedy(steps.prefill, steps.decode, torch.zeros(1, 5), 1, ticking_clock([0.0, 2.0, 2.0]), no_sync)
    assert [call[0] for call in steps.calls] == ["prefill"] and run.output_len == 1 and run.tpot_s is None
    with pytest.raises(ValueError, match="output_len must be at least 1"):
        generate_greedy(steps.prefill, steps.decode, torch.zeros(1, 5), 0, ticking_clock([0.0]), no_sync)


def test_ttft_tpot_and_tokens_per_second_come_from_the_clock():
    clock = ticking_clock([10.0, 10.5, 12.5, 20.0, 20.25, 21.25])  # start, first token, end; twice
    runs = [
        generate_greedy(FakeSteps().prefill, FakeSteps().decode, torch.zeros(2, 3), 5, clock, no_sync) for _ in "ab"
    ]
    assert (runs[0].ttft_s, runs[0].latency_s, runs[0].tpot_s) == (0.5, 2.5, 0.5)
    generation = generation_of(runs)
    assert generation.ttft_s == (0.5, 0.25) and generation.tpot_s == (0.5, 0.25) and generation.latency_s == (2.5, 1.25)
    assert generation.output_tokens_per_s == (2 * 5 / 2.5, 2 * 5 / 1.25)
    assert generation.token_ids == ((102, 103, 104, 105, 106),) * 2
    rec = recorder()
    record_generation(rec, generation, {"batch_size": 2, "prompt_len": 3, "output_len": 5})
    metrics = {m.name: m for m in rec.metrics}
    assert metrics["tpot"].value == pytest.approx(0.375) and metrics["output_tokens_per_s"].better == "higher"


def test_decode_positions_are_same_strided_views_for_every_step():
    prefill, decode = position_tables(3, 4, 5, "cpu")
    assert prefill.tolist() == [[0, 1, 2, 3]] * 3
    assert [decode[i].tolist() for i in range(4)] == [[[4 + i]] * 3 for i in range(4)]
    assert {decode[i].stride() for i in range(4)} == {(1, 1)} and all(decode[i].is_contiguous() for i in range(4))


def test_the_cache_writes_the_batch_rows_at_the_positions_and_masks_later_slots():
    config = SimpleNamespace(num_key_value_heads=2, head_dim=4, num_hidden_layers=2)
    cache = StaticKVCache.allocate(config, rows=4, length=8, dtype=torch.float32, device="cpu")
    keys, values = CacheWrite(cache, 3, torch.tensor([5])).update(torch.ones(3, 2, 1, 4), torch.ones(3, 2, 1, 4), 1)
    assert keys.shape == (3, 2, 8, 4) and values.data_ptr() == cache.values[1].data_ptr()
    assert cache.keys[1][:3, :, 5].eq(1).all() and cache.keys[1].sum() == 3 * 2 * 4  # rows 0-2, slot 5 only
    assert cache.keys[0].sum() == 0
    mask = attention_mask(torch.tensor([[2, 3], [2, 3]]), 5)
    assert mask.shape == (2, 1, 2, 5)
    assert mask[0, 0].tolist() == [[True, True, True, False, False], [True, True, True, True, False]]


@pytest.mark.parametrize("vocab", [ARGMAX_CHUNK * 3, ARGMAX_CHUNK * 3 + 5, 7])
def test_the_split_argmax_picks_the_first_of_equal_maxima_as_argmax_does(vocab):
    logits = torch.randn(4, vocab, generator=torch.Generator().manual_seed(vocab))
    logits[1, [vocab // 3, vocab - 1]] = 50.0  # a tie across blocks: the first wins
    logits[2, [0, 1]] = 50.0  # a tie within a block
    logits[3] = 1.0  # all equal
    expected = logits.argmax(dim=-1, keepdim=True)
    assert expected[1].item() == vocab // 3 and expected[3].item() == 0
    assert torch.equal(greedy_tokens(logits, split=True), expected)
    assert torch.equal(greedy_tokens(logits.to(torch.bfloat16), split=True), expected)


@pytest.mark.parametrize(
    "batch, sizes, captured", [(1, (1, 2, 4), 1), (3, (1, 2, 4), 4), (4, (1, 2, 4), 4), (6, (1, 2, 4), 6)]
)
def test_a_batch_is_padded_up_to_the_next_capture_size_or_captured_as_is_above_them(batch, sizes, captured):
    assert capture_size(batch, sizes) == captured


def test_cache_lengths_hold_every_position_rounded_up():
    assert cache_length(32, 128) == 192 and cache_length(16, 8) == 64 and cache_length(64, 1) == 64


def test_compile_cache_state_from_inductors_counters():
    assert cache_state((5, 2), (5, 4)) == "cold"
    assert cache_state((5, 2), (7, 2)) == "warm"
    assert cache_state((5, 2), (6, 3)) == "cold"
    assert cache_state((5, 2), (5, 2)) == "none"


def fake_engine(mode):
    return SimpleNamespace(mode=mode, build_s=2.0)


def test_build_time_is_split_into_model_build_compile_and_capture():
    rec = recorder()
    cost = BuildCost(compile_s=30.0, compile_cache="warm", capture=GraphCapture(seconds=1.5, memory_bytes=4096.0))
    record_shape_build(rec, fake_engine("cudagraph"), cost, model_built_now=False, built_now=True)
    metrics = {m.name: m for m in rec.metrics}
    assert set(metrics) == {
        "model_build_s",
        "compile_warm_s",
        "cudagraph_capture_s",
        "cudagraph_memory",
        "engine_build_warm_s",
    }
    assert metrics["engine_build_warm_s"].value == 33.5
    assert dict(metrics["compile_warm_s"].context)["built_in_this_test"] is True
    assert dict(metrics["model_build_s"].context)["built_in_this_test"] is False
    assert metrics["cudagraph_memory"].value == 4096.0 and metrics["cudagraph_memory"].kind == "memory"


def test_eager_records_compile_and_graphs_unavailable_with_the_reason():
    rec = recorder()
    record_shape_build(rec, fake_engine("eager"), BuildCost(), model_built_now=True, built_now=True)
    metrics = {m.name: m for m in rec.metrics}
    assert metrics["compile_s"].unavailable == "the eager backend compiles nothing"
    assert metrics["cudagraph_memory"].unavailable == "the eager backend captures no CUDA graphs"
    assert metrics["engine_build_s"].value == 2.0


def test_options_are_checked_per_backend():
    spec = resolve_model("tiny-llama")
    with pytest.raises(TypeError, match="aot_llm on the eager backend takes dtype; got 'gpu_memory_utilization'"):
        hf_options("eager", spec, "cpu", {"gpu_memory_utilization": 0.5})
    with pytest.raises(ValueError, match="captures its own CUDA graphs"):
        hf_options("cudagraph", spec, "cuda", {"mode": "reduce-overhead"})
    assert hf_options("cudagraph", spec, "cuda", {"batch_sizes": [4, 1]}).capture_sizes == (1, 4)
    assert hf_options("inductor", spec, "cpu", {"mode": "max-autotune-no-cudagraphs"}).compile_kwargs == {
        "mode": "max-autotune-no-cudagraphs"
    }
    assert hf_options("cudagraph", spec, "cuda", {"split_argmax": True}).split_argmax
    with pytest.raises(TypeError, match="split_argmax takes True or False, not 1"):
        hf_options("inductor", spec, "cpu", {"split_argmax": 1})


def test_dtype_is_the_configs_on_a_gpu_and_float32_on_cpu_unless_given():
    spec = resolve_model("tiny-llama")
    assert resolve_dtype(spec, "cuda", None) == "bfloat16"
    assert resolve_dtype(spec, "cpu", None) == "float32"
    assert resolve_dtype(spec, "cpu", "torch.bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="dtype 'int8' is not one of"):
        resolve_dtype(spec, "cpu", "int8")


def test_a_run_reads_the_clock_three_times_start_first_token_end():
    reads = itertools.count()
    generate_greedy(FakeSteps().prefill, FakeSteps().decode, torch.zeros(1, 2), 3, lambda: float(next(reads)), no_sync)
    assert next(reads) == 3


class ToleranceRecorder:
    def __init__(self, tolerance):
        self.tolerance = tolerance

    def tolerance_for(self, name, kind="timing"):
        return self.tolerance


def test_runners_add_iterations_while_latency_is_wider_than_the_tolerance_allows():
    from pytest_aotperf.llm.metrics import iterate_until_tight

    steady = iter(range(100))
    tight = iterate_until_tight(lambda: 1.0 + next(steady) * 1e-6, 10, 40, lambda rs: [rs], ToleranceRecorder(0.1))
    assert len(tight) == 10
    noisy = iter([1.0, 2.0, 0.5, 3.0] * 30)
    wide = iterate_until_tight(lambda: next(noisy), 10, 40, lambda rs: [rs], ToleranceRecorder(0.1))
    assert len(wide) == 40
    assert len(iterate_until_tight(lambda: 1.0, 10, 40, lambda rs: [rs], ToleranceRecorder(None))) == 10


def test_seeded_weights_are_saved_once_in_a_folder_named_by_what_makes_them(tmp_path, monkeypatch):
    saved = []

    def save(spec, folder, dtype, device, seed):
        saved.append(folder)
        (Path(folder) / "model.safetensors").write_text("weights")

    monkeypatch.setattr(hf_model, "save_seeded", save)
    spec = resolve_model("tiny-llama")
    first = seeded_folder(spec, "float32", "cuda:0", tmp_path)
    assert seeded_folder(spec, "float32", "cuda:1", tmp_path) == first, "one path across processes and devices"
    assert len(saved) == 1 and (Path(first) / "model.safetensors").is_file()
    assert seeded_folder(spec, "bfloat16", "cuda", tmp_path) != first
    assert seeded_folder(spec, "float32", "cpu", tmp_path) != first
    assert sorted(p.name for p in (tmp_path / "aotperf-seeded").iterdir() if ".partial-" in p.name) == []


def test_a_failed_save_leaves_no_seeded_folder_behind(tmp_path, monkeypatch):
    def save(spec, folder, dtype, device, seed):
        (Path(folder) / "half-written").write_text("x")
        raise OSError("disk full")

    monkeypatch.setattr(hf_model, "save_seeded", save)
    with pytest.raises(OSError, match="disk full"):
        seeded_folder(resolve_model("tiny-llama"), "float32", "cpu", tmp_path)
    assert list((tmp_path / "aotperf-seeded").iterdir()) == []
