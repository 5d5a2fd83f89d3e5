"""Baselines from reports taken elsewhere: `aotperf record REPORT...` (a GPU runner's artifacts, say)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from ..reporting.json_report import metric_from_json, run_values
from .store import BaselineStore


def record_reports(
    reports: Sequence[Mapping[str, Any]], root: Path, force: bool
) -> Tuple[List[Path], Dict[Tuple[str, str], Dict[str, str]]]:
    """Record the last report's tests, with the earlier reports as earlier runs (as `refresh --runs` does).

    A refresh rule needs each metric's tolerance: the one its verdict was judged with in that run.
    Returns the files written and, per (test, backend), what happened to each metric.
    """
    *earlier, last = reports
    prior = run_values(earlier)
    store = BaselineStore(root, last["machine"])
    changes: Dict[Tuple[str, str], Dict[str, str]] = {}
    for test in last["tests"]:
        metrics = [metric_from_json(name, data) for name, data in test["metrics"].items()]
        tolerances = {name: verdict["tolerance"] for name, verdict in test["verdicts"].items()}
        changes[(test["test"], test["backend"])] = store.refresh(
            test["backend"],
            test["module"],
            test["test"],
            metrics,
            last["environment"],
            test["config"],
            lambda metric: tolerances[metric.name],
            force,
            prior.get(test["nodeid"], {}),
        )
    return store.write(), changes
