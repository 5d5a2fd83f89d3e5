"""The cudagraph backend where no CUDA device is: unavailable with its reason, options still checked."""

import pytest
import torch

from pytest_aotperf.backends import BackendUnsupported, create_backend
from pytest_aotperf.backends.cudagraph import NO_CUDA_FOR_GRAPHS, CudaGraphBackend
from pytest_aotperf.compiled import CompileStats
from pytest_aotperf.graphs.capture import CaptureError
from pytest_aotperf.graphs.replay import (
    COPIED,
    LENT,
    VIEWS,
    CapturedGraph,
    CudaGraphModel,
    GraphSet,
    batch_routes,
)

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without CUDA")


def example():
    return torch.nn.Linear(4, 2), (torch.randn(2, 4),)


def test_registry_builds_the_cudagraph_backend():
    assert isinstance(create_backend("cudagraph"), CudaGraphBackend)


@needs_no_cuda
def test_without_cuda_the_backend_says_why_it_is_unavailable():
    assert CudaGraphBackend().unavailable_reason() == NO_CUDA_FOR_GRAPHS


@needs_no_cuda
def test_without_cuda_compile_is_unsupported_and_captures_nothing():
    module, inputs = example()
    with pytest.raises(BackendUnsupported, match="CUDA graphs need a CUDA device"):
        CudaGraphBackend().compile(module, inputs, [1, 2])


@pytest.mark.parametrize("mode", ["reduce-overhead", "max-autotune"])
def test_modes_with_inductor_cudagraphs_are_refused(mode):
    module, inputs = example()
    with pytest.raises(ValueError, match="captures its own CUDA graphs"):
        CudaGraphBackend().compile(module, inputs, [1], mode=mode)


def test_inductor_cudagraphs_option_is_refused():
    module, inputs = example()
    with pytest.raises(ValueError, match="triton.cudagraphs"):
        CudaGraphBackend().compile(module, inputs, [1], **{"triton.cudagraphs": True})


@pytest.mark.parametrize("sizes", [[0, 1], [2, -4], [1.5]])
def test_batch_sizes_must_be_positive_integers(sizes):
    module, inputs = example()
    with pytest.raises(ValueError, match="batch_sizes must be positive integers"):
        CudaGraphBackend().compile(module, inputs, sizes)


def test_non_tensor_inputs_are_refused_with_their_position():
    module, inputs = example()
    with pytest.raises(TypeError, match="input 1 is a int"):
        CudaGraphBackend().compile(module, (*inputs, 3), [1])


def test_each_batch_size_is_served_by_the_next_captured_one():
    assert batch_routes([8, 1, 4, 2]) == {1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 6: 8, 7: 8, 8: 8}
    assert batch_routes([]) == {}


def test_capture_error_names_module_batch_size_and_reason():
    error = CaptureError("EncoderStack", 4, "it calls .item()")
    assert (error.module, error.batch_size, error.reason) == ("EncoderStack", 4, "it calls .item()")
    assert "cannot capture EncoderStack into a CUDA graph at batch size 4: it calls .item()" in str(error)
    assert "fallback=True" in str(error)


class DoublingGraph:
    """Stands in for a captured CUDA graph of `x * 2` (and `x * 3` with `pair`): replay writes the static outputs."""

    def __init__(self, inputs, output):
        self.inputs, self.output = inputs, output

    def replay(self):
        x = self.inputs[0]
        if isinstance(self.output, tuple):
            self.output[0].copy_(x * 2)
            self.output[1].copy_(x * 3)
        else:
            self.output.copy_(x * 2)


def runner_of(modes, sizes=(2, 4), pair=False):
    """A model over graph sets of DoublingGraphs, as the backend builds it after capture."""
    sets = [GraphSet(mode) for mode in modes]
    for graph_set in sets:
        for size in sizes:
            inputs = (torch.zeros(size, 3),)
            output = (torch.zeros(size, 3), torch.zeros(size, 3)) if pair else torch.zeros(size, 3)
            graph_set.captured[size] = CapturedGraph(size, DoublingGraph(inputs, output), inputs, output)
    return CudaGraphModel(lambda x: x * 2, sets, CompileStats()), sets


def served_by(out, graph_set, size):
    return out.untyped_storage().data_ptr() == graph_set.captured[size].output.untyped_storage().data_ptr()


DEFAULT_SETS = (LENT, LENT, COPIED)


def test_results_the_caller_drops_are_lent_from_the_first_set_without_copies():
    runner, sets = runner_of(DEFAULT_SETS)
    for _ in range(5):
        x = torch.randn(2, 3)
        out = runner(x)
        assert served_by(out, sets[0], 2) and torch.equal(out, x * 2)
        del out
    assert (runner.replays, runner.copied_outputs) == (5, 0)


def test_a_loop_that_holds_the_last_result_alternates_lending_sets_and_never_copies():
    runner, sets = runner_of(DEFAULT_SETS)
    out, used = None, []
    for _ in range(4):
        previous, x = out, torch.randn(2, 3)
        out = runner(x)
        assert torch.equal(out, x * 2)
        if previous is not None:
            assert out.data_ptr() != previous.data_ptr()
        used.append(0 if served_by(out, sets[0], 2) else 1 if served_by(out, sets[1], 2) else None)
    assert used == [0, 1, 0, 1] and runner.copied_outputs == 0


def test_kept_results_stay_valid_once_every_lending_set_is_held():
    runner, _ = runner_of(DEFAULT_SETS)
    inputs = [torch.randn(2, 3) for _ in range(5)]
    kept = [runner(x) for x in inputs]
    assert all(torch.equal(out, x * 2) for out, x in zip(kept, inputs))
    assert (runner.replays, runner.copied_outputs) == (5, 3)


def test_a_view_of_a_result_holds_it_and_a_held_set_is_not_replayed_at_other_sizes():
    runner, sets = runner_of(DEFAULT_SETS)
    x4 = torch.randn(4, 3)
    row = runner(x4)[0]
    x2 = torch.randn(2, 3)
    assert served_by(runner(x2), sets[1], 2)
    x3 = torch.randn(3, 3)
    padded = runner(x3)
    assert padded.shape == (3, 3) and torch.equal(padded, x3 * 2) and served_by(padded, sets[1], 4)
    assert torch.equal(row, x4[0] * 2)
    assert runner.padded_calls == 1


def test_tuple_outputs_are_lent_and_copied_as_a_whole():
    runner, _ = runner_of(DEFAULT_SETS, pair=True)
    inputs = [torch.randn(3, 3) for _ in range(4)]
    kept = [runner(x) for x in inputs]
    for (doubled, tripled), x in zip(kept, inputs):
        assert torch.equal(doubled, x * 2) and torch.equal(tripled, x * 3)
    assert (runner.padded_calls, runner.copied_outputs) == (4, 2)


def test_views_mode_always_returns_the_static_output_which_the_next_call_overwrites():
    runner, sets = runner_of((VIEWS,))
    first = runner(torch.randn(2, 3))
    second_input = torch.randn(2, 3)
    second = runner(second_input)
    assert served_by(first, sets[0], 2) and first.data_ptr() == second.data_ptr()
    assert torch.equal(first, second_input * 2) and runner.copied_outputs == 0


def test_sizes_no_graph_serves_run_the_compiled_module_and_are_counted():
    runner, _ = runner_of(DEFAULT_SETS)
    x = torch.randn(5, 3)
    assert torch.equal(runner(x), x * 2)
    assert (runner.ungraphed_calls, runner.replays) == (1, 0)
    assert runner.served_sizes == (1, 2, 3, 4)


def test_live_counts_are_exact_per_call_and_their_totals_informational():
    runner, _ = runner_of(DEFAULT_SETS)
    never_called = {m.name: m for m in runner.stats.metrics}
    assert never_called["padded_per_call"].unavailable == "the model was never called"
    kept = [runner(torch.randn(size, 3)) for size in (2, 3, 3, 5)]
    metrics = {m.name: m for m in runner.stats.metrics}
    assert len(kept) == 4
    assert {name: metrics[name].value for name in ("padded_per_call", "copied_per_call", "ungraphed_per_call")} == {
        "padded_per_call": 2 / 4,
        "copied_per_call": 1 / 4,
        "ungraphed_per_call": 1 / 4,
    }
    assert all(metrics[name].kind == "count" for name in ("padded_per_call", "copied_per_call", "ungraphed_per_call"))
    assert all(metrics[name].informational for name in ("replays", "padded_calls", "copied_outputs", "ungraphed_calls"))
