"""Backends by name. Each is imported only when a run asks for it."""

from __future__ import annotations

import importlib
from typing import Dict

from .base import Backend, BackendUnsupported

_REGISTRY: Dict[str, str] = {
    "eager": "pytest_aotperf.backends.eager:EagerBackend",
    "inductor": "pytest_aotperf.backends.inductor:InductorBackend",
    "cudagraph": "pytest_aotperf.backends.cudagraph:CudaGraphBackend",
    "vllm": "pytest_aotperf.backends.vllm:VllmBackend",
}
KNOWN_BACKENDS = tuple(_REGISTRY)

__all__ = [
    "Backend",
    "BackendUnsupported",
    "KNOWN_BACKENDS",
    "create_backend",
]


def create_backend(name: str) -> Backend:
    """A new backend instance; `name` must be one of KNOWN_BACKENDS."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown backend {name!r}; known: {', '.join(KNOWN_BACKENDS)}")
    module_name, class_name = _REGISTRY[name].split(":")
    backend_class: type[Backend] = getattr(importlib.import_module(module_name), class_name)
    return backend_class()
