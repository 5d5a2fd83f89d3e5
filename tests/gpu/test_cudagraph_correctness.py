"""The cudagraph backend on a GPU: replayed graphs compute what eager computes, and say what they did."""

import gc

import pytest
import torch

from example_tests.models import MODELS
from pytest_aotperf.graphs.capture import CaptureError
from pytest_aotperf.graphs.replay import LENDING_SETS, OUTPUTS_LENT_OR_COPIED, OUTPUTS_VIEWS

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

CAPTURED = (1, 2, 4, 8)
CALLED = (1, 2, 3, 5, 8)
"""Captured sizes, and 3 and 5, padded up to 4 and 8."""
RELATIVE_TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 2e-2}
"""Bound on ||out - eager|| / ||eager||: float32 without TF32 differs by summation order only."""
VARIANTS = {
    "encoder": ("encoder", torch.float32),
    "mlp": ("mlp", torch.float32),
    "cnn": ("cnn", torch.float32),
    "mlp-bf16": ("mlp", torch.bfloat16),
}


class Built:
    """An example model in a dtype, its input maker and its compiled form."""

    def __init__(self, backend, variant):
        name, dtype = VARIANTS[variant]
        module, make = MODELS[name]("cuda")
        self.module = module.to(dtype)
        self.dtype = dtype
        self.make = lambda batch: tuple(t.to(dtype) if t.is_floating_point() else t for t in make(batch))
        self.compiled = backend.compile(self.module, self.make(CAPTURED[-1]), CAPTURED)

    def eager(self, inputs):
        with torch.no_grad():
            return self.module(*inputs)


@pytest.fixture(scope="module")
def built(cudagraph_backend):
    cache = {}

    def get(variant):
        if variant not in cache:
            cache[variant] = Built(cudagraph_backend, variant)
        return cache[variant]

    yield get
    cache.clear()


def relative_error(out, ref):
    return ((out.float() - ref.float()).norm() / ref.float().norm()).item()


def assert_matches_eager(model, inputs, out):
    ref = model.eager(inputs)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    assert torch.isfinite(out).all()
    assert relative_error(out, ref) <= RELATIVE_TOLERANCE[model.dtype]


@pytest.mark.parametrize("batch", CALLED)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_replay_matches_eager_at_captured_and_padded_sizes(built, variant, batch):
    model = built(variant)
    before = model.compiled.stats
    inputs = model.make(batch)
    out = model.compiled(*inputs)
    assert_matches_eager(model, inputs, out)
    after = model.compiled.stats
    assert after.value("replays") == before.value("replays") + 1
    padded = batch not in CAPTURED
    assert after.value("padded_calls") == before.value("padded_calls") + padded
    assert after.value("ungraphed_calls") == before.value("ungraphed_calls")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_new_inputs_give_new_outputs_and_kept_results_stay_valid(built, variant):
    model = built(variant)
    first_inputs, second_inputs = model.make(4), model.make(4)
    first = model.compiled(*first_inputs)
    second = model.compiled(*second_inputs)
    assert not torch.equal(first, second)
    assert_matches_eager(model, second_inputs, second)
    assert_matches_eager(model, first_inputs, first)
    assert first.data_ptr() != second.data_ptr()


@pytest.mark.parametrize("variant", ["encoder", "mlp-bf16"])
def test_every_kept_result_stays_valid_across_batch_sizes_and_copies(built, variant):
    model = built(variant)
    copied_before = model.compiled.stats.value("copied_outputs")
    calls = [model.make(batch) for batch in (4, 8, 3, 4, 1, 8)]
    kept = [model.compiled(*inputs) for inputs in calls]
    for inputs, out in zip(calls, kept):
        assert_matches_eager(model, inputs, out)
    assert model.compiled.stats.value("copied_outputs") > copied_before


@pytest.mark.parametrize("variant", ["encoder", "mlp"])
def test_graphs_stay_correct_when_torch_clears_its_cublas_workspaces(cudagraph_backend, variant):
    """reduce-overhead clears every cached cuBLAS workspace when it records; our graphs own theirs."""
    model = Built(cudagraph_backend, variant)
    reduce_overhead = torch.compile(model.module, mode="reduce-overhead", dynamic=False)
    with torch.no_grad(), torch._dynamo.config.patch(recompile_limit=64):
        for _ in range(3):
            reduce_overhead(*model.make(2))
    torch._C._cuda_clearCublasWorkspaces()
    gc.collect()
    torch.cuda.empty_cache()
    filler = [torch.full((1 << 20,), float("nan"), device="cuda") for _ in range(64)]
    for batch in (8, 2, 3):
        inputs = model.make(batch)
        assert_matches_eager(model, inputs, model.compiled(*inputs))
    del filler


def test_compile_statistics_describe_the_capture(built):
    stats = built("mlp").compiled.stats
    assert stats.value("compile_s") > 0 and stats.value("capture_s") > 0
    assert stats.value("graphs_captured") == len(CAPTURED) * (LENDING_SETS + 1)
    assert stats.value("capture_fallbacks") == 0
    assert stats.value("graph_pool_bytes") > 0
    assert stats.details["captured"] == list(CAPTURED)
    assert stats.details["served_sizes"] == list(range(1, CAPTURED[-1] + 1))
    assert stats.details["outputs"] == OUTPUTS_LENT_OR_COPIED
    assert stats.details["graph_sets"] == ["lent"] * LENDING_SETS + ["copied"]


def test_batch_larger_than_every_graph_runs_ungraphed_and_is_counted(built):
    model = built("mlp")
    before = model.compiled.stats
    inputs = model.make(CAPTURED[-1] + 1)
    assert_matches_eager(model, inputs, model.compiled(*inputs))
    after = model.compiled.stats
    assert after.value("ungraphed_calls") == before.value("ungraphed_calls") + 1
    assert after.value("replays") == before.value("replays")


def test_views_option_returns_the_static_output_which_the_next_replay_overwrites(cudagraph_backend):
    module, make = MODELS["mlp"]("cuda")
    compiled = cudagraph_backend.compile(module, make(2), [2], return_views=True)
    first = compiled(*make(2))
    kept = first.clone()
    second_inputs = make(2)
    second = compiled(*second_inputs)
    assert first.data_ptr() == second.data_ptr()
    assert torch.equal(first, second) and not torch.equal(first, kept)
    with torch.no_grad():
        assert relative_error(second, module(*second_inputs)) <= RELATIVE_TOLERANCE[torch.float32]
    assert compiled.stats.details["outputs"] == OUTPUTS_VIEWS


def test_graph_pool_is_released_when_the_compiled_model_is_dropped(cudagraph_backend):
    module, make = MODELS["mlp"]("cuda")
    example = make(8)

    def settled():
        gc.collect()
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        return torch.cuda.memory_allocated(), torch.cuda.memory_reserved()

    compiled = cudagraph_backend.compile(module, example, CAPTURED)
    del compiled  # a first cycle makes what outlives any one model (kernels, library handles)
    allocated_before, reserved_before = settled()
    compiled = cudagraph_backend.compile(module, example, CAPTURED)
    pool_bytes = compiled.stats.value("graph_pool_bytes")
    _, reserved_with = settled()
    assert pool_bytes > 0 and reserved_with >= reserved_before + pool_bytes, (reserved_before, reserved_with)
    del compiled
    allocated_after, reserved_after = settled()
    memory = dict(
        allocated_before=allocated_before,
        allocated_after=allocated_after,
        pool_bytes=pool_bytes,
        reserved_before=reserved_before,
        reserved_with=reserved_with,
        reserved_after=reserved_after,
    )
    assert allocated_after <= allocated_before, memory
    assert reserved_after <= reserved_before, memory
    assert reserved_with - reserved_after >= pool_bytes, memory


def test_dropping_one_model_leaves_another_live_model_correct(cudagraph_backend):
    """Each model's graphs use workspaces in their own pools, so freeing one frees nothing the other uses."""
    (first, make), (second, _) = MODELS["mlp"]("cuda"), MODELS["mlp"]("cuda")
    kept = cudagraph_backend.compile(second, make(2), [2])
    dropped = cudagraph_backend.compile(first, make(2), [2])
    dropped(*make(2))
    del dropped
    gc.collect()
    torch.cuda.empty_cache()
    filler = [torch.randn(1 << 20, device="cuda") for _ in range(32)]
    inputs = make(2)
    out = kept(*inputs)
    with torch.no_grad():
        assert relative_error(out, second(*inputs)) <= RELATIVE_TOLERANCE[torch.float32]
    del filler


class HostSync(torch.nn.Module):
    def forward(self, x):
        return x * x.abs().max().item()


class DataDependent(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x - 1


class CpuBuffer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.full((16,), 3.0))

    def forward(self, x):
        return x * self.scale.to(x.device)


@pytest.mark.parametrize(
    "module, reason",
    [
        (HostSync(), "synchronises with the host"),
        (DataDependent(), "synchronises with the host"),
        (CpuBuffer(), "buffer 'scale' is a cpu tensor"),
    ],
    ids=["host-sync", "data-dependent", "cpu-tensor"],
)
def test_uncapturable_module_error_names_module_batch_size_and_reason(cudagraph_backend, module, reason):
    name = type(module).__name__
    with pytest.raises(CaptureError) as raised:
        cudagraph_backend.compile(module, (torch.randn(2, 16, device="cuda"),), [2])
    error = raised.value
    assert (error.module, error.batch_size) == (name, 2)
    assert f"cannot capture {name} into a CUDA graph at batch size 2" in str(error)
    assert reason in error.reason


def test_fallback_runs_without_a_graph_and_is_recorded(cudagraph_backend):
    module = HostSync()
    compiled = cudagraph_backend.compile(module, (torch.randn(2, 16, device="cuda"),), [2], fallback=True)
    stats = compiled.stats
    assert stats.value("graphs_captured") == 0 and stats.value("capture_fallbacks") == 1
    assert "synchronises with the host" in stats.details["fallback"][2]
    assert torch.randn(4, device="cuda").isfinite().all()  # torch's RNG left capture mode
    x = torch.randn(2, 16, device="cuda")
    torch.testing.assert_close(compiled(x), module(x))
    assert compiled.stats.value("ungraphed_calls") == 1 and compiled.stats.value("replays") == 0
