"""The example models' knobs: a device wait that stays in the compiled graph, a graph break every module takes,
defaults the A/B proof commits, and clear errors."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from example_tests import models

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sleeps(monkeypatch):
    """The cycles each `torch.cuda._sleep` was asked for (none runs: this machine may have no GPU)."""
    asked = []
    monkeypatch.setattr(torch.cuda, "_sleep", asked.append)
    return asked


def test_the_device_wait_runs_once_per_compiled_call_in_one_graph(sleeps):
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()  # graphs compiled by earlier tests of the process
    compiled = torch.compile(models.DeviceWait(torch.nn.Linear(4, 4), cycles=123))
    inputs = torch.randn(2, 4)
    for _ in range(3):
        compiled(inputs)
    assert sleeps == [123, 123, 123]
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1


def test_importing_the_models_registers_no_op():
    """Without the knob the suite runs as it did before the knob existed: the wait's op is made on first use."""
    code = "import example_tests.models, torch; print(hasattr(torch.ops.aotperf_example, 'device_wait'))"
    ran = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"


def test_without_the_knob_the_module_is_untouched(monkeypatch):
    monkeypatch.delenv("AOTPERF_EXAMPLE_DEVICE_SLOWDOWN", raising=False)
    module = torch.nn.Linear(4, 4)
    assert models.with_device_slowdown(module, (torch.randn(1, 4),), compile_fn=None, recorder=None) is module


@pytest.mark.parametrize(
    "slowed, expected",
    [
        (lambda wait: 1000 + 300 + wait, 0),  # the wait's kernel alone costs more than the 20% asked
        (lambda wait: 1000 + 50 + wait, 150),  # it costs 50 cycles beyond its wait
        (lambda wait: 1000 + max(0, wait - 80), 280),  # it fills 80 cycles the device would idle
    ],
)
def test_the_wait_is_corrected_by_the_slowed_calls_timing(slowed, expected):
    assert models.calibrated_wait(1.2, 1000, slowed) == expected


@pytest.mark.parametrize("value", ["0.8", "fast", "nan"])
def test_a_slowdown_below_one_or_not_a_number_names_the_knob(monkeypatch, value):
    monkeypatch.setenv("AOTPERF_EXAMPLE_DEVICE_SLOWDOWN", value)
    with pytest.raises(ValueError, match=f"AOTPERF_EXAMPLE_DEVICE_SLOWDOWN='{value}': give a factor of at least 1"):
        models.device_slowdown()


def test_the_slowdown_needs_a_cuda_device(monkeypatch):
    monkeypatch.setenv("AOTPERF_EXAMPLE_DEVICE_SLOWDOWN", "1.2")
    with pytest.raises(RuntimeError, match="AOTPERF_EXAMPLE_DEVICE_SLOWDOWN needs a CUDA device"):
        models.with_device_slowdown(torch.nn.Linear(4, 4), (torch.randn(1, 4),), compile_fn=None, recorder=None)


def test_a_knob_default_applies_where_the_environment_is_silent(monkeypatch):
    monkeypatch.delenv("AOTPERF_EXAMPLE_HOOKS", raising=False)
    monkeypatch.setitem(models.KNOB_DEFAULTS, "HOOKS", "1")
    assert models.knob("HOOKS")
    monkeypatch.setenv("AOTPERF_EXAMPLE_HOOKS", "0")
    assert not models.knob("HOOKS")


def test_the_ab_proof_script_finds_the_defaults_it_rewrites():
    script = (ROOT / "scripts/gpu_ab_proof.sh").read_text()
    pattern = re.search(r"sed -i 's/(.+?)/", script).group(1).replace("\\[", "[").replace("\\]", "]")
    assert pattern.strip("^$") in (ROOT / "example_tests/models.py").read_text().splitlines()


def test_the_graph_break_knob_breaks_every_module_a_process_compiles():
    from pytest_aotperf.backends.inductor import compile_for_batch_sizes

    torch._dynamo.reset()
    counts = []
    for batch in (1, 4):
        compiled = torch.compile(models.GraphBreak(torch.nn.Linear(4, 4)))
        stats = {m.name: m.value for m in compile_for_batch_sizes(compiled, (torch.randn(batch, 4),), [batch], "cpu")}
        counts.append((stats["graphs"], stats["graph_breaks"]))
    assert counts == [(2, 1), (2, 1)]


def test_the_slowdowns_calibration_leaves_the_tests_compile_to_count_every_graph(sleeps):
    """The calibration compiles the test's own module; with the graph break knob, the test's compile found
    those frames compiled and counted 0 breaks (the A/B proof on the GPU caught the break only by kernels)."""
    from pytest_aotperf.backends.inductor import compile_for_batch_sizes

    inputs = (torch.randn(1, 4),)

    def counted(module):
        stats = compile_for_batch_sizes(torch.compile(module), inputs, [1], "cpu")
        return {m.name: m.value for m in stats if m.name in ("graphs", "graph_breaks", "fx_calls")}

    torch._dynamo.reset()
    cold = counted(models.DeviceWait(models.GraphBreak(torch.nn.Linear(4, 4)), cycles=7))

    def one_call_cycles(call):
        call()
        return 1000.0

    module = models.GraphBreak(torch.nn.Linear(4, 4))
    slowed = models.slowed_module(module, inputs, torch.compile, one_call_cycles, factor=1.2)
    assert isinstance(slowed, models.DeviceWait) and slowed.model is module
    assert counted(slowed) == cold
    assert cold["graph_breaks"] >= 1
