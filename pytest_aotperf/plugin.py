"""pytest hooks: options, parametrization by backend, judging each test, baselines and reports."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import pytest

from . import gpus, xdist
from .atomic import WriteError, unwritable_reason
from .baselines.files import BaselineError, UnsafeNameError, machines_with_baselines
from .compile_cache import use_fresh_caches
from .fixtures import aot_backend, aot_compile, aot_device, aot_llm, aot_perf, aot_timer, backend_name  # noqa: F401
from .history.store import HistoryError, append_run, check_history
from .interop.benchmark_json import write_benchmark_json
from .interop.gate import aot_benchmark, is_gated, keep_benchmark_stats  # noqa: F401
from .marks import MARKER_HELP, marker_spec
from .options import Settings, add_options, early_value, read_settings, share_gpus
from .reporting.markdown import write_markdown
from .reporting.terminal import summary_lines
from .results import PerfTestId, ReportError, RunReport, load_report, run_values, write_report
from .session import NO_BACKEND, AotPerfSession
from .stash import GPU_KEY, RECORDER_KEY, SESSION_KEY, SPEC_KEY, session_of

MEASURING_FIXTURES = ("aot_perf", "aot_compile", "aot_llm")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.stash[GPU_KEY] = _assign_gpu(config)
    if early_value(config, "--aot-compile-cache") == "fresh":
        config.add_cleanup(use_fresh_caches(os.environ))


def _assign_gpu(config: pytest.Config) -> gpus.Assignment:
    """A worker takes its own GPU (CUDA_VISIBLE_DEVICES) before torch starts CUDA; the controller checks first.

    A usage error in a worker reaches the user as an xdist internal error, so the controller, which
    sees the same devices as its local workers, refuses more workers than GPUs itself.
    """
    share = share_gpus(config)
    try:
        if xdist.is_worker(config):
            return gpus.apply_assignment(share, os.environ)
        workers = xdist.planned_workers(config)
        if workers:
            gpus.check_worker_count(workers, gpus.visible_devices(os.environ), share)
    except gpus.GpuAssignmentError as error:
        raise pytest.UsageError(f"aotperf: {error}") from None
    return gpus.UNCHANGED


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    settings = read_settings(config)
    try:
        prior = run_values(load_report(path) for path in settings.prior_runs)
    except ReportError as error:
        raise pytest.UsageError(f"--aot-prior-runs: {error}") from None
    _check_outputs(settings)
    aot = config.stash[SESSION_KEY] = AotPerfSession(settings, config.rootpath, prior)
    if xdist.is_controller(config):
        xdist.check_baseline_files(aot)
        config.pluginmanager.register(xdist.ResultReceiver(aot), "aotperf-xdist-receiver")


def _check_outputs(settings: Settings) -> None:
    """Usage errors, before any test runs, for an output that cannot be written as a file (a folder, or below a
    file) and a history that is not a folder."""
    for option, path in settings.output_options.items():
        reason = unwritable_reason(path) if path is not None else None
        if reason:
            raise pytest.UsageError(f"{option}: {reason}")
    if settings.history is not None:
        try:
            check_history(settings.history)
        except HistoryError as error:
            raise pytest.UsageError(f"--aot-history: {error}") from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "aot_backend" in metafunc.fixturenames:
        backends = session_of(metafunc.config).settings.backends
        metafunc.parametrize("aot_backend", backends, indirect=True, ids=list(backends))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: List[pytest.Item]) -> None:
    aot = session_of(config)
    _group_by_backend(items, aot.settings.backends)
    for item in items:
        item.stash[SPEC_KEY] = marker_spec(item)
        if is_gated(item) or any(name in getattr(item, "fixturenames", ()) for name in MEASURING_FIXTURES):
            test = PerfTestId.of(item.nodeid, backend_name(item))
            try:
                aot.store.entries(test.backend, test.module)
            except BaselineError as error:
                raise pytest.UsageError(f"aotperf: baseline file {error}") from None
            except UnsafeNameError as error:
                raise pytest.UsageError(f"aotperf: {item.nodeid}: {error}") from None


def _group_by_backend(items: List[pytest.Item], backends: Sequence[str]) -> None:
    """Run each backend's tests together, in --aot-backend order, so each backend is built and released once.

    pytest orders parametrized tests function by function (test_a[eager], test_a[inductor],
    test_b[eager], ...); the tests of no backend keep their places.
    """
    order = {name: position for position, name in enumerate(backends)}
    slots = [index for index, item in enumerate(items) if backend_name(item) != NO_BACKEND]
    grouped = sorted((items[index] for index in slots), key=lambda item: order.get(backend_name(item), len(order)))
    for index, item in zip(slots, grouped):
        items[index] = item


def pytest_report_header(config: pytest.Config) -> List[str]:
    aot = config.stash.get(SESSION_KEY, None)
    if aot is None:
        return []
    mode = "refresh (writing baselines)" if aot.settings.refresh else "check"
    return [f"aotperf: backends {', '.join(aot.settings.backends)}; baselines {aot.settings.baseline_dir}; mode {mode}"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    recorder = item.stash.get(RECORDER_KEY, None)
    if call.when != "call" or recorder is None or not report.passed:
        return report
    try:
        recorded = recorder.finish()
    except ValueError as error:  # a value the recorder refuses (configuration JSON cannot hold): this test fails
        report.outcome = "failed"
        report.longrepr = f"aotperf: {error}"
        return report
    aot = session_of(item.config)
    test = PerfTestId.of(item.nodeid, recorded.baseline_key)
    result = aot.judge(test, recorded.metrics, item.stash[SPEC_KEY], recorded.config)
    if xdist.is_worker(item.config):
        result = xdist.send(report, aot.reported(result))
    else:
        aot.keep(result)
    if result.failures:
        report.outcome = "failed"
        report.longrepr = "aotperf: " + "\naotperf: ".join(result.failures)
    return report


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: Optional[pytest.Item]) -> None:
    """Release a backend when the next test runs on another one (tests are grouped by backend at collection)."""
    name = backend_name(item)
    if name != NO_BACKEND and (nextitem is None or backend_name(nextitem) != name):
        session_of(item.config).release_backend(name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    aot = session.config.stash.get(SESSION_KEY, None)
    if aot is None:
        return
    aot.close_backends()
    if xdist.is_worker(session.config):
        return  # the controller writes for the whole run
    if aot.settings.refresh and exitstatus != pytest.ExitCode.INTERRUPTED:
        _writing(aot, "baselines not written", aot.write_baselines)
    if any(aot.settings.outputs.values()):
        _write_outputs(aot)
    if aot.write_errors:
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def _write_outputs(aot: AotPerfSession) -> None:
    """The run's report files and history; each written, or its failure kept to be shown, the others still written."""
    report = aot.report()
    writers: Dict[str, Callable[[Path, RunReport], object]] = {
        "--aot-report": write_report,
        "--aot-report-md": write_markdown,
        "--aot-benchmark-json": write_benchmark_json,
        "--aot-history": append_run,
    }
    for option, path in aot.settings.output_options.items():
        if path is not None and (option != "--aot-history" or aot.results):
            _writing(aot, option, functools.partial(writers[option], path, report))


def _writing(aot: AotPerfSession, what: str, write: Callable[[], object]) -> None:
    """Run `write`; a file or database it cannot write is kept in the session's write errors, saying `what`."""
    try:
        write()
    except (WriteError, HistoryError) as error:
        aot.write_errors.append(f"{what}: {error}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After the test body: keep the statistics of a gated pytest-benchmark test for its verdict."""
    result = yield
    if SESSION_KEY in item.config.stash and is_gated(item):
        keep_benchmark_stats(item)
    return result


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    aot = config.stash.get(SESSION_KEY, None)
    if aot is None:
        return
    for error in aot.write_errors:
        terminalreporter.write_line(f"aotperf: {error}", red=True)
    if not aot.results:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"aotperf (machine {aot.machine})")
    everything = aot.settings.table == "all" or config.get_verbosity() > 0
    for line in summary_lines(aot.report(), everything, config.get_terminal_writer().fullwidth):
        write(line)
    machines = machines_with_baselines(aot.settings.baseline_dir)
    others = [m for m in machines if m != aot.machine]
    if aot.machine not in machines and not aot.written:
        write(
            f"no baselines for machine {aot.machine!r} in {aot.settings.baseline_dir}; "
            f"machines with baselines: {', '.join(others) or 'none'}. Record them with `aotperf refresh`."
        )
    for path in aot.written:
        write(f"baseline written: {path}")
    for label, output in aot.settings.outputs.items():
        if output:
            write(f"{label}: {output}")
