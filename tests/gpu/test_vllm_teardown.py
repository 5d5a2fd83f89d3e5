"""vLLM engines on the GPU: another configuration replaces an engine, and closing returns its memory (NVML)."""

import time

import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.vllm,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

GIB = 2**30


def memory_info():
    """NVML's memory figures of the whole GPU (the engine runs in child processes)."""
    import pynvml

    from pytest_aotperf.measure.nvml import nvml_device

    return pynvml.nvmlDeviceGetMemoryInfo(nvml_device().handle)


def device_used() -> int:
    return memory_info().used


def settled_used(limit_s: float = 20.0) -> int:
    """Used memory once it stops falling (a child process frees its memory as it exits)."""
    previous, deadline = device_used(), time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current = device_used()
        if current >= previous:
            return current
        previous = current
    return previous


def recorder(name):
    from pytest_aotperf.measure.timing import CpuTimer, SamplingPlan
    from pytest_aotperf.recorder import PerfRecorder

    return PerfRecorder(name, "cuda", CpuTimer(), SamplingPlan())


def test_engines_replace_each_other_and_return_their_memory():
    pytest.importorskip("vllm")
    from pytest_aotperf.backends.vllm import VllmBackend

    total = memory_info().total
    backend = VllmBackend()
    before = settled_used()
    backend.llm("tiny-llama", recorder("first"), enforce_eager=True, gpu_memory_utilization=0.25)
    first = device_used()
    assert first - before > 0.15 * total
    backend.llm("tiny-llama", recorder("second"), enforce_eager=True, gpu_memory_utilization=0.35)
    second = device_used()
    assert 0.25 * total < second - before < 0.45 * total, "the first engine's memory must be gone"
    backend.close()
    after = settled_used()
    print(
        f"NVML used: before {before / GIB:.2f} GiB, first engine {first / GIB:.2f}, "
        f"second {second / GIB:.2f}, after close {after / GIB:.2f}"
    )
    assert after - before < 1 * GIB
