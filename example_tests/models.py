"""The models the evaluation pipeline compiled, small enough to run on a CPU.

Environment knobs change them the way a regression would, to show the gate catches it:
- `AOTPERF_EXAMPLE_DEVICE_SLOWDOWN=1.2`: the compiled call's device time 1.2 times what it was (a
  wait on the device after the model, sized by timing the compiled model without and with it; CUDA only);
- `AOTPERF_EXAMPLE_EXTRA_BLOCK=1`: one more block of device work per call (a hidden layer, a
  convolution, an encoder layer), the kind of change a slower kernel or a wider model makes;
- `AOTPERF_EXAMPLE_HOOKS=1`: a forward hook on every module (host-side work in eager mode);
- `AOTPERF_EXAMPLE_GRAPH_BREAK=1`: one graph break in the forward, after the model (one more op after it).
"""

from __future__ import annotations

import functools
import gc
import os
import statistics
from typing import Any, Callable, Dict, Tuple

import torch
from torch import nn

InputFn = Callable[[int], Tuple[torch.Tensor, ...]]

KNOB_DEFAULTS: Dict[str, str] = {}
"""A knob's value when the environment does not set it (scripts/gpu_ab_proof.sh commits some here)."""
CALIBRATION_SAMPLES = 21


def knob_value(name: str) -> str:
    return os.environ.get(f"AOTPERF_EXAMPLE_{name}", KNOB_DEFAULTS.get(name, ""))


def knob(name: str) -> bool:
    return knob_value(name) not in ("", "0")


def device_slowdown() -> float:
    """The factor `AOTPERF_EXAMPLE_DEVICE_SLOWDOWN` asks for (1: none)."""
    value = knob_value("DEVICE_SLOWDOWN") or "1"
    try:
        factor = float(value)
    except ValueError:
        factor = 0.0
    if not factor >= 1:
        raise ValueError(f"AOTPERF_EXAMPLE_DEVICE_SLOWDOWN={value!r}: give a factor of at least 1, such as 1.2")
    return factor


def _sleep_cycles(token: torch.Tensor, cycles: int) -> None:
    torch.cuda._sleep(cycles)


@functools.lru_cache(maxsize=None)
def device_wait_op() -> Callable[[torch.Tensor, int], None]:
    """A custom op that spins for `cycles` GPU clock cycles on the current stream (captured like any kernel).

    It mutates `token` so that compilers keep it although nothing reads its result. Registered on first use,
    so that a run without the knob is the suite as it was, with no op registered at collection.
    """
    return torch.library.custom_op("aotperf_example::device_wait", _sleep_cycles, mutates_args=("token",))


class DeviceWait(nn.Module):
    """The model, then a wait on the device of a fixed number of GPU cycles."""

    def __init__(self, model: nn.Module, cycles: int) -> None:
        super().__init__()
        self.model = model
        self.cycles = cycles
        self.wait = device_wait_op()
        self.register_buffer("token", torch.zeros(1))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        output = self.model(*inputs)
        self.wait(self.token, self.cycles)
        return output


def device_cycles_per_call(timer: Any, call: Callable[[], Any]) -> float:
    """The median device time of `call`, in the GPU clock cycles `device_wait_op` counts (`timer`: the plugin's
    DeviceTimer)."""
    device_s = statistics.median(timer.time_calls(call, CALIBRATION_SAMPLES))
    return device_s * timer.cycles_per_s()


def calibrated_wait(factor: float, model_cycles: float, slowed_cycles: Callable[[int], float]) -> int:
    """The wait, in cycles, after which the compiled call takes `factor` times its `model_cycles`.

    A first guess of (factor - 1) times the model is corrected by what the model with that wait measured
    (`slowed_cycles`): in a compiled call the wait costs more than its cycles (its kernel, about 2 µs) or
    less (it fills time the device would idle), and by how much depends on the model and the backend.
    """
    first = round((factor - 1) * model_cycles)
    return max(0, first + round(factor * model_cycles - slowed_cycles(first)))


def with_device_slowdown(
    module: nn.Module, inputs: Tuple[torch.Tensor, ...], compile_fn: Callable[[nn.Module], Any], recorder: Any
) -> nn.Module:
    """The module, or with `AOTPERF_EXAMPLE_DEVICE_SLOWDOWN=F` the module followed by a device wait sized so
    that `compile_fn`'s compiled call takes F times as long (`calibrated_wait`, timing compiled calls).
    The test's memory is then counted from after that calibration (`recorder.restart_memory()`).
    """
    factor = device_slowdown()
    if factor == 1:
        return module
    device = inputs[0].device
    if device.type != "cuda":
        raise RuntimeError("AOTPERF_EXAMPLE_DEVICE_SLOWDOWN needs a CUDA device: it waits on the GPU")
    from pytest_aotperf.measure.device_time import DeviceTimer

    timer = DeviceTimer()
    slowed = slowed_module(module, inputs, compile_fn, functools.partial(device_cycles_per_call, timer), factor)
    gc.collect()
    torch.cuda.empty_cache()  # the calibration's compiled models and their graphs' memory go back
    recorder.restart_memory()
    return slowed


def slowed_module(
    module: nn.Module,
    inputs: Tuple[torch.Tensor, ...],
    compile_fn: Callable[[nn.Module], Any],
    cycles_of: Callable[[Callable[[], Any]], float],
    factor: float,
) -> nn.Module:
    """`DeviceWait(module, cycles)`, the wait calibrated on `compile_fn`'s compiled calls (`cycles_of` times
    one call), then dynamo's caches reset: the calibration compiled this very module, and the test's own
    compile is to capture and count every graph of it, as it would without the knob."""

    def compiled_cycles(model: nn.Module) -> float:
        return cycles_of(functools.partial(compile_fn(model), *inputs))

    device = inputs[0].device
    cycles = calibrated_wait(
        factor, compiled_cycles(module), lambda wait: compiled_cycles(DeviceWait(module, wait).to(device))
    )
    torch._dynamo.reset()
    return DeviceWait(module, cycles).to(device)


class GraphBreak(nn.Module):
    """The model, then a graph break and one more op: two graphs where there was one.

    The break comes after work on both sides: dynamo skips a frame that breaks before any op for good,
    so a break at the top of forward would count only in the first module a process compiles.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        output = self.model(*inputs)
        torch._dynamo.graph_break()
        return output * 1


def with_knobs(model: nn.Module) -> nn.Module:
    if knob("HOOKS"):
        for module in model.modules():
            module.register_forward_hook(lambda module, inputs, output: None)
    return GraphBreak(model) if knob("GRAPH_BREAK") else model


class EncoderStack(nn.Module):
    """A small transformer encoder over embedded token ids, mean-pooled into logits."""

    def __init__(self, vocab: int = 1000, dim: int = 128, heads: int = 4, layers: int = 2, classes: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, batch_first=True, dropout=0.0)
        layers += knob("EXTRA_BLOCK")
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def mlp_classifier(features: int = 256, hidden: int = 512, classes: int = 10) -> nn.Module:
    extra = [nn.Linear(hidden, hidden), nn.GELU()] if knob("EXTRA_BLOCK") else []
    return nn.Sequential(
        nn.Linear(features, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), *extra, nn.Linear(hidden, classes)
    )


def small_cnn(classes: int = 10) -> nn.Module:
    extra = [nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()] if knob("EXTRA_BLOCK") else []
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        *extra,
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, classes),
    )


def build_encoder(device: str, seq_len: int = 32) -> Tuple[nn.Module, InputFn]:
    module = with_knobs(EncoderStack()).to(device).eval()
    return module, lambda batch: (torch.randint(0, 1000, (batch, seq_len), device=device),)


def build_mlp(device: str) -> Tuple[nn.Module, InputFn]:
    module = with_knobs(mlp_classifier()).to(device).eval()
    return module, lambda batch: (torch.randn(batch, 256, device=device),)


def build_cnn(device: str) -> Tuple[nn.Module, InputFn]:
    module = with_knobs(small_cnn()).to(device).eval()
    return module, lambda batch: (torch.randn(batch, 3, 32, 32, device=device),)


MODELS = {"encoder": build_encoder, "mlp": build_mlp, "cnn": build_cnn}
