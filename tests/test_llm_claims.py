"""The users' claims, answered from a run of benchmarks/llm_backends.py (recorded numbers, no GPU)."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "llm_backends.py"


@pytest.fixture(scope="module")
def llm_backends():
    spec = importlib.util.spec_from_file_location("llm_backends", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(latency_s=None, output_tokens_per_s=None, engine_build_s=None, compile_s=None, capture_s=None, graphs=None):
    batch = dict(latency_s=latency_s, output_tokens_per_s=output_tokens_per_s, engine_build_s=engine_build_s)
    batch.update(compile_s=compile_s, cudagraph_capture_s=capture_s, cudagraph_memory=graphs)
    return {"batches": {"1": batch}}


NO_CAPTURE = "unavailable: vLLM logged no 'Graph capturing finished' line"
RUNS = {
    "inductor": {"warm": run(1.46, 88.0)},
    "cudagraph": {"cold": run(compile_s=30.0), "warm": run(0.197, 648.7, 14.6, 9.5, 0.045, 36.0)},
    "vllm": {"cold": run(compile_s=14.9), "warm": run(0.257, 498.0, 40.0, 3.0, 4.0, NO_CAPTURE)},
}


def test_each_claim_gets_its_ratio_and_verdict(llm_backends):
    rows = {row["claim"]: row for row in llm_backends.claims(RUNS, [1])}
    assert rows["38% faster first compile"]["ratio"] == pytest.approx(14.9 / 30.0)
    assert rows["38% faster first compile"]["verdict"] == "confirmed"
    assert rows["62% faster start from a compile cache"]["verdict"] == "refuted"
    assert rows["58% shorter warm-up"]["ratio"] == pytest.approx(7.0 / 9.545)
    assert rows["21-28% more tokens/s (batch 1)"]["ratio"] == pytest.approx(498.0 / 648.7)
    assert rows["21-28% more tokens/s (batch 1)"]["verdict"] == "refuted"
    assert rows["15-25% lower latency from CUDA graphs (batch 1)"]["verdict"] == "confirmed"


def test_a_claim_without_both_numbers_is_not_comparable(llm_backends):
    rows = {row["claim"]: row for row in llm_backends.claims(RUNS, [1, 16])}
    graphs = rows["17% less memory (CUDA graphs)"]  # vLLM logged no capture here
    assert graphs["ratio"] is None and graphs["verdict"] == "not comparable"
    assert rows["17% less memory"]["verdict"] == "not comparable"
    assert rows["21-28% more tokens/s (batch 16)"]["verdict"] == "not comparable"
