"""Baseline files: DIR/<machine>/<backend>/<module path>.json, read strictly, written atomically.

Machine keys (from CI variables), backend names and module paths (from reports) are untrusted:
each is checked to be a plain name, and every path to lie under the baseline folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Mapping

from ..schema import SchemaError, dumps, loads
from .entries import BaselineEntry

SCHEMA = "pytest-aotperf/baseline/1"
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")
NAME_RULE = "letters, digits and '._+-', not starting with '.' nor holding '..'"


class UnsafeNameError(ValueError):
    """A machine key, backend name or module path that would not make a plain path under the baseline folder."""


class BaselineError(Exception):
    """A baseline file that cannot be used; names the file and what is wrong with it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


def check_name(what: str, name: str) -> str:
    """`name` if it is a plain file name of NAME's characters; UnsafeNameError saying `what` it is otherwise."""
    if not NAME.fullmatch(name) or ".." in name:
        raise UnsafeNameError(f"{what} {name!r} is not allowed: use {NAME_RULE}")
    return name


def baseline_path(root: Path, machine: str, backend: str, module_path: str) -> Path:
    """Where the baselines of one test module on one backend and machine live, checked to lie under `root`."""
    module = PurePosixPath(module_path)
    if module.is_absolute() or not module.parts or not all(NAME.fullmatch(p) and ".." not in p for p in module.parts):
        raise UnsafeNameError(
            f"test module path {module_path!r} is not allowed: baselines are stored under the test file's path "
            f"below the rootdir, each part of {NAME_RULE} (a test file outside the rootdir has none)"
        )
    path = root / check_name("machine key", machine) / check_name("backend name", backend) / module.with_suffix(".json")
    if not path.resolve().is_relative_to(root.resolve()):
        raise UnsafeNameError(f"{path} lies outside the baseline folder {root} (through a symbolic link)")
    return path


@dataclass(frozen=True)
class BaselineDocument:
    """A baseline file's content: the machine and backend it was recorded for ("-" where it does not say), and its
    entries by test name."""

    machine: str
    backend: str
    entries: Mapping[str, BaselineEntry]


def load_file(path: Path) -> Dict[str, BaselineEntry]:
    """The entries of a baseline file by test name; {} if there is no file."""
    try:
        return dict(load_document(path).entries)
    except FileNotFoundError:
        return {}


def load_document(path: Path) -> BaselineDocument:
    """A baseline file, read strictly: BaselineError naming it when it is unusable; FileNotFoundError when missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        above = next((parent for parent in path.parents if parent.is_file()), None)
        reason = f"{above} is a file, not a folder" if above is not None else str(error)
        raise BaselineError(path, f"cannot be read: {reason} (the file was left as it is)") from None
    try:
        data = loads(text)
    except (ValueError, RecursionError) as error:
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
    machine, backend = (str(data[key]) if isinstance(data.get(key), str) else "-" for key in ("machine", "backend"))
    try:
        entries = {name: BaselineEntry.from_json(entry, f"tests.{name}") for name, entry in tests.items()}
    except SchemaError as error:
        raise BaselineError(path, f"{error} (the file was left as it is)") from None
    return BaselineDocument(machine, backend, entries)


def render(machine: str, backend: str, entries: Mapping[str, BaselineEntry]) -> str:
    """The file's text: sorted keys, two-space indent, trailing newline, so diffs show only changes."""
    data = {
        "schema": SCHEMA,
        "machine": machine,
        "backend": backend,
        "tests": {name: entry.to_json() for name, entry in entries.items()},
    }
    return dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def machines_with_baselines(root: Path) -> List[str]:
    """Machine keys that have at least one baseline file under `root`."""
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and any(d.rglob("*.json")))


def baseline_files(root: Path) -> List[Path]:
    return sorted(root.rglob("*.json")) if root.is_dir() else []
