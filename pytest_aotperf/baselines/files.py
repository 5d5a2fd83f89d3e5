"""Baseline files: DIR/<machine>/<backend>/<module path>.json, read strictly, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Mapping

from ..schema import SchemaError
from .entries import BaselineEntry

SCHEMA = "pytest-aotperf/baseline/1"


class BaselineError(Exception):
    """A baseline file that cannot be used; names the file and what is wrong with it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


def baseline_path(root: Path, machine: str, backend: str, module_path: str) -> Path:
    """Where the baselines of one test module on one backend and machine live."""
    module = Path(module_path)
    return root / machine / backend / module.with_suffix(".json")


def load_file(path: Path) -> Dict[str, BaselineEntry]:
    """The entries of a baseline file by test name; {} if there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise BaselineError(path, f"cannot be read: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BaselineError(
            path, f"is not valid JSON: {error}; fix or delete the file (it was left as it is)"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise BaselineError(
            path,
            f"is not a pytest-aotperf baseline: expected schema {SCHEMA!r}, found {found!r} "
            "(the file was left as it is)",
        )
    tests = data.get("tests")
    if not isinstance(tests, dict):
        raise BaselineError(path, "field 'tests' must be an object of test name to entry")
    try:
        return {name: BaselineEntry.from_json(entry, f"tests.{name}") for name, entry in tests.items()}
    except SchemaError as error:
        raise BaselineError(path, f"{error} (the file was left as it is)") from None


def render(machine: str, backend: str, entries: Mapping[str, BaselineEntry]) -> str:
    """The file's text: sorted keys, two-space indent, trailing newline, so diffs show only changes."""
    data = {
        "schema": SCHEMA,
        "machine": machine,
        "backend": backend,
        "tests": {name: entry.to_json() for name, entry in entries.items()},
    }
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def machines_with_baselines(root: Path) -> List[str]:
    """Machine keys that have at least one baseline file under `root`."""
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and any(d.rglob("*.json")))


def baseline_files(root: Path) -> List[Path]:
    return sorted(root.rglob("*.json")) if root.is_dir() else []
