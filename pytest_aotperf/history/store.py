"""The run history (--aot-history): every run's measured values in SQLite, read back per metric."""

from __future__ import annotations

import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

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
APPLICATION_ID = 0x414F5450
"""`PRAGMA application_id` of a history this project made ("AOTP"); `user_version` is SCHEMA_VERSION."""
SCHEMA_VERSION = 1
TABLES = {
    "runs": ("id", "time", "machine", "commit_id"),
    "measurements": (
        "run",
        "nodeid",
        "test",
        "backend",
        "metric",
        "value",
        "unit",
        "better",
        "baseline",
        "tolerance",
        "status",
    ),
}
"""The tables and columns of a history made before the application id was set: recognised as one."""
LOCK_TIMEOUT_S = 1.0
"""How long to wait for a database another process holds locked."""


class HistoryError(Exception):
    """A history database that cannot be used; the message names the file and why."""


@contextmanager
def _connection(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the history `db`, committed on success; every SQLite failure a HistoryError naming `db`."""
    if Path(db).is_dir():
        raise HistoryError(f"{db}: is a folder, not a history database; name a file")
    try:
        with closing(sqlite3.connect(db, timeout=LOCK_TIMEOUT_S)) as connection, connection:
            yield connection
    except sqlite3.Error as error:
        raise HistoryError(f"{db}: cannot use the history database: {_reason(error)}") from None


def _reason(error: sqlite3.Error) -> str:
    text = str(error)
    if "locked" in text:
        return f"another process holds it locked (waited {LOCK_TIMEOUT_S:g} s)"
    if "not a database" in text:
        return "not a SQLite database"
    return text


def _is_ours(connection: sqlite3.Connection) -> bool:
    """Whether the database is a history of this project (or empty, to be made one)."""
    (application_id,) = connection.execute("PRAGMA application_id").fetchone()
    if application_id == APPLICATION_ID:
        return True
    names = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if application_id == 0 and not names:
        return True
    return (
        application_id == 0
        and sorted(names) == sorted(TABLES)
        and all(
            tuple(row[1] for row in connection.execute(f"PRAGMA table_info({table})")) == columns
            for table, columns in TABLES.items()
        )
    )


def check_history(db: Path) -> None:
    """HistoryError naming `db` unless it is missing, empty, or a history of this project; nothing is written."""
    path = Path(db)
    if not path.exists() or path.is_file() and path.stat().st_size == 0:
        return
    with _connection(db) as connection:
        if not _is_ours(connection):
            raise HistoryError(
                f"{db}: is another program's SQLite database, not a pytest-aotperf history; "
                "name a new file for the history"
            )


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
    check_history(db)
    with _connection(db) as connection:
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
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
    check_history(db)
    series: Dict[Tuple[str, str], List[Point]] = {}
    if _empty(db):
        return series
    with _connection(db) as connection:
        for name, backend, *point in connection.execute(query, (metric, test or "", machine, machine)):
            series.setdefault((name, backend), []).append(Point(*point))
    return series


def load_run_values(db: Path, machine: str, nodeid: str, backend: str, metric: str, unit: str) -> Tuple[float, ...]:
    """The earlier runs' values of one metric of one test on `machine`, oldest first, in `unit` only (none before
    the first run has made the database)."""
    if not Path(db).exists() or _empty(db):
        return ()
    query = (
        "SELECT m.value FROM measurements m JOIN runs r ON r.id = m.run WHERE r.machine = ? AND m.nodeid = ? "
        "AND m.backend = ? AND m.metric = ? AND m.unit = ? ORDER BY r.id"
    )
    with _connection(db) as connection:
        return tuple(value for (value,) in connection.execute(query, (machine, nodeid, backend, metric, unit)))


def _empty(db: Path) -> bool:
    """A database with no runs table yet (an empty file, or one a run is about to make)."""
    if Path(db).stat().st_size == 0:
        return True
    with _connection(db) as connection:
        return connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone() is None
