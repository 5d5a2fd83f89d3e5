"""Generation on an LLM, the same test on every backend: the tiny Llama, on CPU and GPU alike.

`eager`, `inductor` and `cudagraph` run the `transformers` model with a static KV cache and greedy
decoding (as is; compiled; compiled with the decode step replayed as a CUDA graph); `vllm` runs
vLLM's engine. All of them build the same seeded random weights (`weights="seeded"` on vllm).
The nightly gate keeps to the tiny model so that four backends fit one job; the 1B and 8B shapes,
batch 16 and cold against warm builds are `benchmarks/llm_backends.py`'s.
"""

import pytest

BATCH_SIZES = (1, 4)


def workload(backend):
    """(model, prompt_len, output_len, options, max_iterations): two CPU cores (10 timed generations), or
    vLLM's benchmark lengths on a GPU (more generations while latency and TPOT are wider than the tolerance).

    On a GPU the vLLM engine takes a fifth of the card, leaving the rest to the other tests of the session.
    """
    options = {"weights": "seeded"} if backend.name == "vllm" else {}
    if backend.device.startswith("cuda"):
        if backend.name == "vllm":
            options["gpu_memory_utilization"] = 0.2
        return "tiny-llama", 32, 128, options, 30
    return "tiny-llama", 32, 32, options, 10


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_generation(batch_size, aot_backend, aot_llm):
    model, prompt_len, output_len, options, max_iterations = workload(aot_backend)
    runner = aot_llm(model, **options)
    generation = runner.generate(
        batch_size,
        prompt_len=prompt_len,
        output_len=output_len,
        warmup=3,
        iterations=10,
        max_iterations=max_iterations,
        greedy=True,
    )
    assert 10 <= len(generation.latency_s) <= max_iterations
    assert all(len(tokens) == output_len for tokens in generation.token_ids)
