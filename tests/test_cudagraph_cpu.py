"""The cudagraph backend where no CUDA device is: unavailable with its reason, options still checked."""

import pytest
import torch

from pytest_aotperf.backends import BackendUnsupported, create_backend
from pytest_aotperf.backends.cudagraph import NO_CUDA_REASON, CaptureError, CudaGraphBackend, batch_routes

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without CUDA")


def example():
    return torch.nn.Linear(4, 2), (torch.randn(2, 4),)


def test_registry_builds_the_cudagraph_backend():
    assert isinstance(create_backend("cudagraph"), CudaGraphBackend)


@needs_no_cuda
def test_without_cuda_the_backend_says_why_it_is_unavailable():
    assert CudaGraphBackend().unavailable_reason() == NO_CUDA_REASON


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
