"""The state of one aotperf run: backends, baselines, and the judgement of each measured test."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .backends import Backend, create_backend
from .baselines.refresh import RefreshRequest
from .baselines.store import BaselineStore
from .environment import collect_environment, machine_key
from .environment_change import environment_changes
from .history.bands import Allowance, history_allowance
from .history.store import load_run_values
from .host_speed import TOLERANCE, judge_host_timing, judged_by_spread
from .marks import MarkerSpec
from .measure.host_reference import SLOW_HOST, slower_host
from .metrics import Metric
from .options import Settings
from .results import PerfTestId, PerfTestResult, RunReport
from .verdict import FailurePolicy, beside_environment, failure_messages, judge

NO_BACKEND = "none"
"""The backend name under which tests that use `aot_perf` without a backend are stored."""


class AotPerfSession:
    """Backends, baselines and results of one pytest run."""

    def __init__(
        self, settings: Settings, root: Path, prior_runs: Mapping[str, Mapping[str, Tuple[float, ...]]]
    ) -> None:
        self.settings = settings
        self.root = root
        self.results: List[PerfTestResult] = []
        self.written: List[Path] = []
        self.write_errors: List[str] = []
        """What the run could not write (baselines, reports, history), one line each."""
        self._prior_runs = prior_runs
        self._backends: Dict[str, Backend] = {}

    @functools.cached_property
    def machine(self) -> str:
        """Looked up on first use, so that a run without aotperf tests never imports torch."""
        return self.settings.machine or machine_key()

    @functools.cached_property
    def environment(self) -> Mapping[str, Any]:
        return {**collect_environment(self.root), "compile_cache": self.settings.compile_cache}

    @functools.cached_property
    def store(self) -> BaselineStore:
        return BaselineStore(self.settings.baseline_dir, self.machine)

    def backend(self, name: str) -> Backend:
        """The backend `name`, made and warmed up (where the machine runs it) on first use."""
        if name not in self._backends:
            backend = self._backends[name] = create_backend(name)
            if backend.unavailable_reason() is None:
                backend.warm_up()
        return self._backends[name]

    def release_backend(self, name: str) -> None:
        """Close a backend no later test needs, so that what it holds (an engine's GPU memory) returns."""
        backend = self._backends.pop(name, None)
        if backend is not None:
            backend.close()

    def close_backends(self) -> None:
        for name in list(self._backends):
            self.release_backend(name)

    def judge(
        self, test: PerfTestId, metrics: Tuple[Metric, ...], spec: MarkerSpec, config: Mapping[str, Any]
    ) -> PerfTestResult:
        """Verdicts and failures of a test that ran, each metric under its tolerance; nothing is written.

        Host-speed timings are judged by the spread of their own runs (unless the test or run asks for
        the fixed tolerance, or for information only), and flagged `slow-host` when this process's host
        read much slower than the baseline's; every verdict says where the environment changed since its baseline."""
        settings = self.settings
        entry = self.store.entry(test.backend, test.module, test.name)
        recorded_in = entry.environment if entry else {}
        changes = environment_changes(recorded_in, self.environment)
        slow = slower_host(self.environment.get("host_reference_ns"), recorded_in.get("host_reference_ns"))
        host_rule = spec.host_timings or settings.host_timings
        verdicts = []
        for metric in metrics:
            tolerance = spec.tolerance_for(metric.name, settings.default_tolerance(metric.kind))
            baseline = entry.metrics.get(metric.name) if entry else None
            host_speed = judged_by_spread(metric)
            if host_speed and host_rule != TOLERANCE:
                verdict = judge_host_timing(host_rule, metric, baseline, tolerance, self._history_runs(test, metric))
            else:
                verdict = judge(metric, baseline, tolerance, self._history_band(test, metric, tolerance))
            if slow and host_speed:
                verdict = dataclasses.replace(verdict, flags=verdict.flags + (SLOW_HOST,))
            verdicts.append(beside_environment(verdict, changes))
        failures = failure_messages(test.name, test.backend, verdicts, _failure_policy(settings), metrics, spec.limits)
        return PerfTestResult(test, metrics, tuple(verdicts), failures, config=config)

    def _history_band(self, test: PerfTestId, metric: Metric, tolerance: float) -> Optional[Allowance]:
        """The metric's band from the run history (--aot-history), when it holds enough earlier runs here.

        Only when checking: a refresh judges against the stored baseline, which it may rewrite.
        """
        return history_allowance(self._history_runs(test, metric), tolerance, min_runs=self.settings.history_min_runs)

    def _history_runs(self, test: PerfTestId, metric: Metric) -> Tuple[float, ...]:
        """The metric's earlier runs on this machine in the run history (--aot-history); none when
        refreshing, which judges against the stored baseline it may rewrite."""
        history = self.settings.history
        if history is None or self.settings.refresh:
            return ()
        return load_run_values(history, self.machine, test.nodeid, test.backend, metric.name, metric.unit)

    def refresh(self, result: PerfTestResult) -> PerfTestResult:
        """Stage the test's new baseline entry from its judged result; the result with what changed."""
        request = RefreshRequest(
            test=result.test,
            metrics=result.metrics,
            verdicts={verdict.metric: verdict for verdict in result.verdicts},
            environment=self.environment,
            config=result.config,
            prior_runs=self._prior_runs.get(result.test.nodeid, {}),
        )
        changes = self.store.refresh(request, self.settings.force_refresh)
        return dataclasses.replace(result, baseline_changes=changes)

    def keep(self, result: PerfTestResult) -> None:
        """Add a judged result to the run, its new baseline entry staged first in refresh mode."""
        self.results.append(self.reported(self.refresh(result) if self.settings.refresh else result))

    def reported(self, result: PerfTestResult) -> PerfTestResult:
        """A result as the run's reports keep it: samples thinned as baselines keep them, unless
        --aot-report-raw-samples."""
        return result if self.settings.report_raw_samples else result.thinned()

    def write_baselines(self) -> None:
        self.written = self.store.write()

    def report(self) -> RunReport:
        """The whole run, as the JSON report and every renderer see it."""
        return RunReport(
            machine=self.machine,
            environment=self.environment,
            settings={key: str(value) for key, value in vars(self.settings).items()},
            baselines_written=tuple(str(path) for path in self.written),
            tests=tuple(self.results),
        )


def _failure_policy(settings: Settings) -> FailurePolicy:
    return FailurePolicy(
        strict=settings.strict,
        fail_on_improvement=settings.fail_on_improvement,
        baseline_dir=str(settings.baseline_dir),
        refresh=settings.refresh,
    )
