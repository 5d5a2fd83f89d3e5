"""The run history (--aot-history): every run's measured values in SQLite, read back per metric."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..results import PerfTestResult, RunReport

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, machine TEXT NOT NULL, commit_id TEXT);
CREATE TABLE IF NOT EXISTS measurements (
    run INTEGER NOT NULL REFERENCES runs(id), nodeid TEXT NOT NULL, test TEXT NOT NULL, backend TEXT NOT NULL,
    metric TEXT NOT NULL, value REAL NOT NULL, unit TEXT NOT NULL, better TEXT NOT NULL,
    baseline REAL, tolerance REAL NOT NULL, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS measurements_by_metric ON measurements (nodeid, metric);
"""


@dataclass(frozen=True)
class Point:
    """One run's value of one metric."""

    run: int
    time: str
    commit: str
    value: float
    baseline: Optional[float]
    tolerance: float
    unit: str
    better: str
    status: str
    """The run's verdict on the metric (against its baseline then)."""


def append_run(db: Path, report: RunReport) -> int:
    """Store every measured metric of a run's report as one run; its id."""
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.executescript(SCHEMA)
        run = connection.execute(
            "INSERT INTO runs (time, machine, commit_id) VALUES (?, ?, ?)",
            (report.environment.get("time") or "", report.machine, report.environment.get("commit")),
        ).lastrowid
        assert run is not None, "sqlite returns the id of an inserted row"
        connection.executemany(
            "INSERT INTO measurements VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    run,
                    test.test.nodeid,
                    test.test.name,
                    test.test.backend,
                    verdict.metric,
                    verdict.current,
                    verdict.unit,
                    _better(test, verdict.metric),
                    verdict.baseline,
                    verdict.tolerance,
                    verdict.status,
                )
                for test in report.tests
                for verdict in test.verdicts
                if verdict.current is not None
            ],
        )
    return run


def _better(test: PerfTestResult, name: str) -> str:
    metric = test.metric(name)
    if metric is None:
        raise ValueError(f"{test.test.nodeid}: a verdict on {name!r}, which the test did not record")
    return metric.better


def load_series(
    db: Path, metric: str, test: Optional[str] = None, machine: Optional[str] = None
) -> Dict[Tuple[str, str], List[Point]]:
    """Each (test, backend)'s values of `metric` in run order; `test` matches any part of the node id."""
    if not Path(db).exists():
        raise FileNotFoundError(f"{db}: no history here; runs are added with --aot-history={db}")
    query = (
        "SELECT m.test, m.backend, r.id, r.time, r.commit_id, m.value, m.baseline, m.tolerance, m.unit, m.better, "
        "m.status FROM measurements m JOIN runs r ON r.id = m.run WHERE m.metric = ? "
        "AND instr(m.nodeid, ?) > 0 AND (? IS NULL OR r.machine = ?) ORDER BY m.test, m.backend, r.id"
    )
    series: Dict[Tuple[str, str], List[Point]] = {}
    with closing(sqlite3.connect(db)) as connection:
        for name, backend, *point in connection.execute(query, (metric, test or "", machine, machine)):
            series.setdefault((name, backend), []).append(Point(*point))
    return series


def load_run_values(db: Path, machine: str, nodeid: str, backend: str, metric: str, unit: str) -> Tuple[float, ...]:
    """The earlier runs' values of one metric of one test on `machine`, oldest first, in `unit` only (none before
    the first run has made the database)."""
    if not Path(db).exists():
        return ()
    query = (
        "SELECT m.value FROM measurements m JOIN runs r ON r.id = m.run WHERE r.machine = ? AND m.nodeid = ? "
        "AND m.backend = ? AND m.metric = ? AND m.unit = ? ORDER BY r.id"
    )
    with closing(sqlite3.connect(db)) as connection:
        return tuple(value for (value,) in connection.execute(query, (machine, nodeid, backend, metric, unit)))
