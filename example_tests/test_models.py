"""Latency and throughput of the pipeline's models on the backend the run asks for."""

import pytest
import torch
from models import MODELS, with_device_slowdown

BATCH_SIZES = (1, 4, 16)


@pytest.mark.aotperf(metrics={"compile_s": "50%", "capture_s": "50%"})
@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_model(model_name, batch_size, aot_backend, aot_compile, aot_perf):
    module, make_inputs = MODELS[model_name](aot_backend.device)
    example = make_inputs(batch_size)
    with torch.no_grad():
        module = with_device_slowdown(
            module, example, lambda m: aot_backend.compile(m, example, [batch_size]), aot_perf
        )
        compiled = aot_compile(module, example, batch_sizes=[batch_size])
        latency = aot_perf.measure(compiled, *make_inputs(batch_size))
    aot_perf.record_samples(
        "throughput",
        [batch_size / s for s in latency.samples],
        unit="samples/s",
        better="higher",
        kind="value",
        host_speed=latency.host_speed,
    )
