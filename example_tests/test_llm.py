"""Generation on an LLM with vLLM's native compilation: the tiny Llama on CPU, the 1B-like one on a GPU."""

import pytest

BATCH_SIZES = (1, 4)


def workload(device):
    """(model, prompt_len, output_len, engine options): two CPU cores, or vLLM's benchmark shape on a GPU.

    On a GPU the engine takes half the card, leaving the rest to the other tests of the session.
    """
    if device.startswith("cuda"):
        return "llama-3.2-1b", 32, 128, {"gpu_memory_utilization": 0.5}
    return "tiny-llama", 32, 32, {}


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
def test_generation(batch_size, aot_backend, aot_llm):
    model, prompt_len, output_len, options = workload(aot_backend.device)
    runner = aot_llm(model, **options)
    generation = runner.generate(batch_size, prompt_len=prompt_len, output_len=output_len, warmup=3, iterations=10)
    assert len(generation.latency_s) == 10
