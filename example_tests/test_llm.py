"""Generation on an LLM, the same test on every backend: the tiny Llama on CPU, the 1B-like one on a GPU.

`eager`, `inductor` and `cudagraph` run the `transformers` model with a static KV cache and greedy
decoding (as is; compiled; compiled with the decode step replayed as a CUDA graph); `vllm` runs
vLLM's engine. All of them build the same seeded random weights (`weights="seeded"` on vllm).
"""

import pytest

BATCH_SIZES = (1, 4)


def workload(backend):
    """(model, prompt_len, output_len, options): two CPU cores, or vLLM's benchmark shape on a GPU.

    On a GPU the vLLM engine takes half the card, leaving the rest to the other tests of the session.
    """
    options = {"weights": "seeded"} if backend.name == "vllm" else {}
    if backend.device.startswith("cuda"):
        if backend.name == "vllm":
            options["gpu_memory_utilization"] = 0.5
        return "llama-3.2-1b", 32, 128, options
    return "tiny-llama", 32, 32, options


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_generation(batch_size, aot_backend, aot_llm):
    model, prompt_len, output_len, options = workload(aot_backend)
    runner = aot_llm(model, **options)
    generation = runner.generate(
        batch_size, prompt_len=prompt_len, output_len=output_len, warmup=3, iterations=10, greedy=True
    )
    assert len(generation.latency_s) == 10
    assert all(len(tokens) == output_len for tokens in generation.token_ids)
