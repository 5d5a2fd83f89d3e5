"""The fixtures tests use: aot_perf, aot_backend, aot_compile, aot_llm."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import pytest

from .backends import Backend, BackendUnsupported
from .compiled import CompiledModel
from .gpus import UNCHANGED
from .llm.runner import Runner
from .marks import MarkerSpec
from .measure.timing import Timer, timer_for
from .memory_monitor import MemoryMonitor
from .metrics import Kind
from .recorder import PerfRecorder, ToleranceLookup, no_tolerance
from .reporting.progress import progress_step
from .session import NO_BACKEND
from .stash import GPU_KEY, RECORDER_KEY, SPEC_KEY, session_of


def backend_name(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("aot_backend", NO_BACKEND) if callspec else NO_BACKEND


def recorder_for(
    item: pytest.Item,
    device: str,
    timer: Timer,
    memory: Optional[MemoryMonitor] = None,
    tolerance: ToleranceLookup = no_tolerance,
) -> PerfRecorder:
    """The recorder of `item`: its baselines kept under the item's backend, its timings flagged where this
    xdist worker shares its GPU."""
    return PerfRecorder(
        item.nodeid,
        device,
        timer,
        session_of(item.config).settings.plan,
        memory,
        tolerance=tolerance,
        backend=backend_name(item),
        gpu=item.config.stash.get(GPU_KEY, UNCHANGED),
    )


@pytest.fixture
def aot_backend(request: pytest.FixtureRequest) -> Backend:
    """The backend of this parametrization; skips the test where the machine cannot run it."""
    name = getattr(request, "param", None)
    if name is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: aot_backend is parametrized by --aot-backend; "
            "do not request it from a fixture outside the test"
        )
    spec = request.node.stash[SPEC_KEY]
    if spec.backends is not None and name not in spec.backends:
        pytest.skip(f"runs only on backend(s) {', '.join(spec.backends)} (@pytest.mark.aotperf(backends=...))")
    backend = session_of(request.config).backend(name)
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"backend {name}: {reason}")
    return backend


@pytest.fixture
def aot_device(request: pytest.FixtureRequest) -> str:
    """The device this test measures on: its backend's, else "cuda" when there is one."""
    if backend_name(request.node) == NO_BACKEND:
        return _default_device()
    backend: Backend = request.getfixturevalue("aot_backend")  # skips first where the backend cannot run
    return backend.device


@pytest.fixture
def aot_timer(aot_device: str) -> Timer:
    """The timer behind `aot_perf.measure`; override this fixture to inject a clock."""
    return timer_for(aot_device)


@pytest.fixture
def aot_perf(request: pytest.FixtureRequest, aot_device: str, aot_timer: Timer) -> PerfRecorder:
    """The per-test recorder: `measure(fn, ...)` times, `record(name, value, ...)` stores."""
    memory = MemoryMonitor(use_cuda=aot_device.startswith("cuda"))
    settings = session_of(request.config).settings
    spec: MarkerSpec = request.node.stash[SPEC_KEY]

    def tolerance(name: str, kind: Kind) -> float:
        return spec.tolerance_for(name, settings.default_tolerance(kind))

    recorder = recorder_for(request.node, aot_device, aot_timer, memory, tolerance)
    memory.start()
    request.node.stash[RECORDER_KEY] = recorder
    return recorder


@pytest.fixture
def aot_compile(
    aot_backend: Backend, aot_perf: PerfRecorder, request: pytest.FixtureRequest
) -> Callable[..., CompiledModel]:
    """`aot_compile(module, example_inputs, batch_sizes=None, **options)`: the module compiled by this backend."""

    def compile_module(
        module: Any, example_inputs: Sequence[Any], batch_sizes: Optional[Sequence[int]] = None, **options: Any
    ) -> CompiledModel:
        inputs = tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
        sizes = tuple(batch_sizes) if batch_sizes else aot_backend.default_batch_sizes(inputs)
        step = f"{aot_backend.name}: compiling {type(module).__name__} for batch sizes {', '.join(map(str, sizes))}"
        try:
            with progress_step(request.config if aot_backend.slow_compile else None, step):
                model = aot_backend.compile(module, inputs, sizes, **options)
        except BackendUnsupported as reason:
            pytest.skip(str(reason))
        aot_perf.attach(model)
        return model

    return compile_module


@pytest.fixture
def aot_llm(aot_backend: Backend, aot_perf: PerfRecorder, request: pytest.FixtureRequest) -> Callable[..., Runner]:
    """`aot_llm(model, **options)`: an LLM runner on this backend (options from the marker, then the call)."""
    marker_options = request.node.stash[SPEC_KEY].llm_options

    def llm(model: str, **options: Any) -> Runner:
        try:
            step = f"{aot_backend.name}: engine for {model} (built, or shared with earlier tests)"
            with progress_step(request.config if aot_backend.runs_llms else None, step):
                runner = aot_backend.llm(model, recorder=aot_perf, **{**marker_options, **options})
        except BackendUnsupported as reason:
            pytest.skip(str(reason))
        aot_perf.restart_memory()
        return runner

    return llm


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
