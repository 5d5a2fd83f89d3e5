"""A kept comparison (`aotperf ab --work-dir DIR`): the rounds it has finished, and whether a run may go on with it.

DIR holds base's worktree, each tree's compile caches, each round's report and `MANIFEST`, which names the
comparison (base and head as they were, the pytest arguments) and the finished rounds with their pytest
exit codes. A later run of the same comparison runs only the rounds DIR lacks, so a comparison stopped by a
time limit goes on where it stopped and a finished one can be given more rounds; any other comparison is
refused, naming what differs, so that rounds of two different comparisons are never pooled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

from ..atomic import write_atomic

MANIFEST = "aotperf-ab.json"


class WorkDirError(ValueError):
    """DIR cannot hold or continue this comparison; the message names DIR and why."""


@dataclass(frozen=True)
class ComparisonKey:
    """What makes two runs the same comparison."""

    base_commit: str
    head_commit: str
    head_changes: str
    """A digest of head's uncommitted changes (`git.uncommitted_digest`)."""
    pytest_args: Tuple[str, ...]


@dataclass(frozen=True)
class WorkDir:
    """A comparison's folder and the rounds finished in it, keyed `base-1`, `head-1`, ..., with their exit codes."""

    path: Path
    key: ComparisonKey
    finished: Tuple[Tuple[str, int], ...] = ()

    def exit_code(self, label: str, number: int) -> Optional[int]:
        """The pytest exit code of that round when it finished here and its report is still in DIR, else None."""
        code = dict(self.finished).get(round_name(label, number))
        return code if code is not None and self.report(label, number).is_file() else None

    def report(self, label: str, number: int) -> Path:
        return self.path / f"{round_name(label, number)}.json"

    def log(self, label: str, number: int) -> Path:
        return self.path / f"{round_name(label, number)}.log"

    def with_round(self, label: str, number: int, code: int) -> "WorkDir":
        """This folder with that round finished, its manifest rewritten whole (a stop mid-write loses nothing)."""
        finished = dict(self.finished)
        finished[round_name(label, number)] = code
        done = WorkDir(self.path, self.key, tuple(sorted(finished.items())))
        done.save()
        return done

    def save(self) -> None:
        content = {"comparison": asdict(self.key), "finished_rounds": dict(self.finished)}
        write_atomic(self.path / MANIFEST, json.dumps(content, indent=2, sort_keys=True) + "\n")


def round_name(label: str, number: int) -> str:
    return f"{label}-{number}"


def open_work_dir(path: Path, key: ComparisonKey) -> WorkDir:
    """DIR for this comparison: made when missing or empty, else continued when its manifest names the same
    comparison. Refused when DIR holds anything else (never cleared: it may be somebody's folder)."""
    manifest = path / MANIFEST
    if path.exists() and not path.is_dir():
        raise WorkDirError(f"--work-dir {path}: not a folder")
    if not manifest.exists():
        if path.is_dir() and any(path.iterdir()):
            raise WorkDirError(f"--work-dir {path}: not empty and holds no {MANIFEST}; name an empty or new folder")
        path.mkdir(parents=True, exist_ok=True)
        fresh = WorkDir(path, key)
        fresh.save()
        return fresh
    kept_key, finished = _read_manifest(manifest)
    differences = [name for name, value in asdict(key).items() if kept_key.get(name) != _comparable(value)]
    if differences:
        raise WorkDirError(
            f"--work-dir {path}: it holds another comparison ({', '.join(differences)} differ, {MANIFEST}); "
            "name a new folder for this one"
        )
    return WorkDir(path, key, tuple(sorted(finished.items())))


def _read_manifest(manifest: Path) -> Tuple[Dict[str, object], Dict[str, int]]:
    try:
        content = json.loads(manifest.read_text(encoding="utf-8"))
        kept_key, finished = content["comparison"], content["finished_rounds"]
        if not isinstance(kept_key, dict) or not isinstance(finished, dict):
            raise TypeError("comparison and finished_rounds must be objects")
        return kept_key, {str(name): int(code) for name, code in finished.items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WorkDirError(f"{manifest}: unreadable ({error}); name a new --work-dir") from None


def _comparable(value: object) -> object:
    """A key's field as JSON gives it back (tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value
