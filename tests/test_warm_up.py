"""Backends warm the process up once, before the first test measures its memory."""

from pathlib import Path

import pytest

from pytest_aotperf.backends import Backend, BackendUnsupported
from pytest_aotperf.compiled import CompiledModel, CompileStats
from pytest_aotperf.measure.timing import SamplingPlan
from pytest_aotperf.options import Settings
from pytest_aotperf.session import AotPerfSession


class Counting(Backend):
    name = "counting"
    device = "cpu"

    def __init__(self, reason=None):
        self.compiled, self.calls, self.reason = [], 0, reason

    def unavailable_reason(self):
        return self.reason

    def compile(self, module, example_inputs, batch_sizes, **options):
        self.compiled.append((type(module).__name__, batch_sizes))

        def call(*inputs):
            self.calls += 1
            return module(*inputs)

        return CompiledModel(call, CompileStats())


class Refusing(Counting):
    def compile(self, module, example_inputs, batch_sizes, **options):
        raise BackendUnsupported("compiles no modules")


def test_warm_up_compiles_and_calls_a_small_model_of_its_own_and_counts_its_host_work():
    backend = Counting()
    backend.warm_up()
    # three calls, then one profiled and one with Python calls counted: the profiler's first use
    # (about 140 MiB of host memory on CPU) falls on no test
    assert backend.compiled == [("WarmUp", (2,))] and backend.calls == 5


def test_a_backend_that_compiles_no_modules_has_nothing_to_warm():
    Refusing().warm_up()


def settings():
    return Settings(
        backends=("counting",),
        baseline_dir=Path("baselines"),
        refresh=False,
        force_refresh=False,
        tolerance=0.1,
        memory_tolerance=0.05,
        duration_tolerance=0.25,
        report=None,
        strict=False,
        fail_on_improvement=False,
        machine="m",
        plan=SamplingPlan(),
        prior_runs=(),
    )


@pytest.mark.parametrize("reason, compiles", [(None, 1), ("no device", 0)])
def test_the_session_warms_each_backend_it_can_run_once(monkeypatch, reason, compiles):
    made = Counting(reason)
    monkeypatch.setattr("pytest_aotperf.session.create_backend", lambda name: made)
    session = AotPerfSession(settings(), Path("."), {})
    assert session.backend("counting") is made and session.backend("counting") is made
    assert len(made.compiled) == compiles
