"""The state of one aotperf run and the judgement of each measured test."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

import pytest

from .backends import Backend, create_backend
from .baselines.store import BaselineStore
from .compare import IMPROVED, NEW, REGRESSED, Verdict, judge, limit_violation
from .environment import collect_environment, machine_key
from .marks import MarkerSpec
from .options import Settings
from .results import Metric
from .units import QuantityError

NO_BACKEND = "none"
"""The backend name under which tests that use `aot_perf` without a backend are stored."""


@dataclass(frozen=True)
class PerfTestId:
    nodeid: str
    module: str
    """The test file relative to the rootdir."""
    name: str
    """The key within its baseline file: the nodeid after the module, e.g. `test_mlp[inductor-4]`."""
    backend: str

    @classmethod
    def of(cls, item: pytest.Item, backend: str) -> "PerfTestId":
        module, _, name = item.nodeid.partition("::")
        return cls(nodeid=item.nodeid, module=module, name=name, backend=backend)


@dataclass(frozen=True)
class PerfTestResult:
    test: PerfTestId
    metrics: Tuple[Metric, ...]
    verdicts: Tuple[Verdict, ...]
    failures: Tuple[str, ...]
    baseline_changes: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)


class AotPerfSession:
    """Backends, baselines and results of one pytest run."""

    def __init__(
        self, settings: Settings, root: Path, prior_runs: Mapping[str, Mapping[str, Tuple[float, ...]]]
    ) -> None:
        self.settings = settings
        self.root = root
        self.results: List[PerfTestResult] = []
        self.written: List[Path] = []
        self._prior_runs = prior_runs
        self._backends: Dict[str, Backend] = {}

    @functools.cached_property
    def machine(self) -> str:
        """Looked up on first use, so that a run without aotperf tests never imports torch."""
        return self.settings.machine or machine_key()

    @functools.cached_property
    def environment(self) -> Mapping[str, Any]:
        return collect_environment(self.root)

    @functools.cached_property
    def store(self) -> BaselineStore:
        return BaselineStore(self.settings.baseline_dir, self.machine)

    def backend(self, name: str) -> Backend:
        if name not in self._backends:
            self._backends[name] = create_backend(name)
        return self._backends[name]

    def release_backend(self, name: str) -> None:
        """Close a backend no later test needs, so that what it holds (an engine's GPU memory) returns."""
        backend = self._backends.pop(name, None)
        if backend is not None:
            backend.close()

    def close_backends(self) -> None:
        for name in list(self._backends):
            self.release_backend(name)

    def judge_test(
        self, test: PerfTestId, metrics: Tuple[Metric, ...], spec: MarkerSpec, config: Mapping[str, Any]
    ) -> PerfTestResult:
        """Verdicts and failures of a test that ran; in refresh mode, stage its new baseline entry."""
        settings = self.settings
        entry = self.store.entry(test.backend, test.module, test.name)
        tolerance_of = lambda m: spec.tolerance_for(m.name, settings.default_tolerance(m.kind))  # noqa: E731
        verdicts = tuple(judge(m, entry.metrics.get(m.name) if entry else None, tolerance_of(m)) for m in metrics)
        failures = list(_limit_failures(metrics, spec))
        if not settings.update:
            failures += _verdict_failures(test, verdicts, settings)
        changes: Dict[str, str] = {}
        if settings.update:
            changes = self.store.refresh(
                test.backend,
                test.module,
                test.name,
                metrics,
                self.environment,
                config,
                tolerance_of,
                settings.force_update,
                self._prior_runs.get(test.nodeid, {}),
            )
        result = PerfTestResult(test, metrics, verdicts, tuple(failures), changes, config)
        self.results.append(result)
        return result

    def write_baselines(self) -> List[Path]:
        self.written = self.store.write()
        return self.written


def _limit_failures(metrics: Tuple[Metric, ...], spec: MarkerSpec) -> List[str]:
    by_name = {m.name: m for m in metrics}
    failures = []
    for name in spec.limits:
        metric = by_name.get(name)
        if metric is None:
            failures.append(
                f"limits name metric {name!r}, which this test did not record; recorded: {', '.join(sorted(by_name))}"
            )
            continue
        try:
            limit = spec.limit_for(name, metric.unit)
        except QuantityError as error:
            failures.append(f"limit for {name!r}: {error}")
            continue
        message = limit_violation(metric, limit)
        if message:
            failures.append(message)
    return failures


def _verdict_failures(test: PerfTestId, verdicts: Tuple[Verdict, ...], settings: Settings) -> List[str]:
    label = f"{test.name} (backend {test.backend})"
    failures = []
    for verdict in verdicts:
        if verdict.status == REGRESSED:
            failures.append(f"{label}: {verdict.describe()}")
        elif verdict.status == IMPROVED and settings.fail_on_improvement:
            failures.append(
                f"{label}: improved beyond its tolerance, the baseline is stale "
                f"(refresh it with `aotperf refresh`): {verdict.describe()}"
            )
        elif verdict.status == NEW and settings.strict:
            failures.append(
                f"{label}: no baseline for {verdict.metric} in {settings.baseline_dir} "
                "(--aot-strict); record one with `aotperf refresh`"
            )
    return failures
