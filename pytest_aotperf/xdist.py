"""pytest-xdist: workers measure and judge; the controller gathers every result and writes for the whole run.

A worker attaches each measured test's result, as JSON, to the test's report, which xdist sends to
the controller with the report; workers write no baselines, reports or history. The controller runs
no tests and builds no backend: it keeps the results as the reports arrive (staging refreshes), and
at its session's end writes baselines, reports, history and the terminal table once.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import pytest

from .baselines.files import BaselineError, baseline_files, load_file
from .results import PerfTestResult
from .schema import dumps, loads
from .session import AotPerfSession

RESULT_ATTRIBUTE = "aotperf_result"
"""The report attribute that carries a result: pytest serialises a report's attributes for xdist."""


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """Whether xdist distributes this run's tests to workers (its `dsession` plugin is registered)."""
    return config.pluginmanager.has_plugin("dsession")


def planned_workers(config: pytest.Config) -> int:
    """The number of workers xdist will start for this run (0 when it distributes nothing).

    xdist turns `-n N` (and `-n auto`) into N `popen` gateways in its pytest_cmdline_main, before
    pytest_configure.
    """
    if config.getoption("collectonly", False) or config.getoption("dist", "no") == "no":
        return 0
    return len(config.getoption("tx", None) or ())


def check_baseline_files(aot: AotPerfSession) -> None:
    """Stop the run on an unusable baseline file of this machine, naming it.

    Workers check a test's file at collection, as a run without xdist does, but xdist turns a
    worker's usage error into an internal error that does not show it; so the controller checks first.
    """
    for path in baseline_files(aot.settings.baseline_dir / aot.machine):
        try:
            load_file(path)
        except BaselineError as error:
            raise pytest.UsageError(f"aotperf: baseline file {error}") from None


def send(report: pytest.TestReport, result: PerfTestResult) -> PerfTestResult:
    """Attach `result` to a worker's report; a result the controller could not read back fails its test."""
    try:
        text = dumps(result.to_json(), default=str)
        decode(text, report.nodeid)
    except ValueError as error:  # a SchemaError, or a NaN json refuses to write
        failure = f"{result.test.nodeid}: its result cannot be sent to the xdist controller: {error}"
        return dataclasses.replace(result, failures=result.failures + (failure,))
    setattr(report, RESULT_ATTRIBUTE, text)
    return result


def decode(text: str, nodeid: str) -> PerfTestResult:
    return PerfTestResult.from_json(loads(text), f"result of {nodeid}")


class ResultReceiver:
    """The controller's plugin: keeps the result that each worker's report carries."""

    def __init__(self, aot: AotPerfSession) -> None:
        self._aot = aot

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        text: Optional[str] = getattr(report, RESULT_ATTRIBUTE, None)
        if text is not None:
            self._aot.keep(decode(text, report.nodeid))
