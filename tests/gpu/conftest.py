"""Fixtures for the GPU tests: strict float32 (no TF32) while they run, one backend for the module."""

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def strict_float32():
    """TF32 off for convolutions and matmuls, so float32 results compare at float32 tolerance."""
    if not torch.cuda.is_available():
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture(scope="module")
def cudagraph_backend():
    from pytest_aotperf.backends.cudagraph import CudaGraphBackend

    backend = CudaGraphBackend()
    yield backend
    backend.close()
