"""The baselines of one run: read once per file, refreshed entries staged, merged into the files at the end."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..atomic import folder_lock, remove_stale_temporaries, write_atomic
from ..results import BaselineChange
from .entries import BaselineEntry
from .files import BaselineError, baseline_path, load_file, render
from .refresh import RefreshRequest, refreshed_entry

FileKey = Tuple[str, str]
"""(backend, module path)"""


class BaselineOverwriteWarning(UserWarning):
    """Another run refreshed a test's entry after this run read it, and this run's entry replaced it."""


class BaselineStore:
    """One machine's baselines under `root`, as a run reads and refreshes them."""

    def __init__(self, root: Path, machine: str) -> None:
        self.root = root
        self.machine = machine
        self._files: Dict[FileKey, Dict[str, BaselineEntry]] = {}
        self._staged: Dict[FileKey, Dict[str, BaselineEntry]] = {}

    def path(self, backend: str, module: str) -> Path:
        return baseline_path(self.root, self.machine, backend, module)

    def entries(self, backend: str, module: str) -> Dict[str, BaselineEntry]:
        """All entries of a file (raises BaselineError naming the file if it is unusable)."""
        key = (backend, module)
        if key not in self._files:
            self._files[key] = load_file(self.path(backend, module))
        return self._files[key]

    def entry(self, backend: str, module: str, test: str) -> Optional[BaselineEntry]:
        return self.entries(backend, module).get(test)

    def refresh(self, request: RefreshRequest, force: bool) -> Dict[str, BaselineChange]:
        """Stage the test's refreshed entry (where anything changed); returns what happened to each metric."""
        test = request.test
        entry = self.entry(test.backend, test.module, test.name)
        new_entry, changes = refreshed_entry(entry, request, force)
        if new_entry is not entry:
            self._staged.setdefault((test.backend, test.module), {})[test.name] = new_entry
        return changes

    def write(self) -> List[Path]:
        """Merge the staged entries into each file as it is now, under its folder's lock; returns the files changed.

        Entries another run wrote since this run read the file are kept, except those of the tests
        this run refreshed too: there the last writer wins, and a BaselineOverwriteWarning says so. Temporary
        files a killed write left are removed; a folder that cannot be written is a WriteError naming it.
        """
        written = []
        for (backend, module), staged in sorted(self._staged.items()):
            path = self.path(backend, module)
            read = self.entries(backend, module)
            with folder_lock(path.parent):
                current = load_file(path)
                for name in sorted(staged):
                    if current.get(name) != read.get(name):
                        warnings.warn(BaselineOverwriteWarning(_overwrite_message(path, name)), stacklevel=2)
                merged = dict(sorted({**current, **staged}.items()))
                remove_stale_temporaries(path)
                if write_atomic(path, _rendered(path, self.machine, backend, merged)):
                    written.append(path)
            self._files[(backend, module)] = merged
        self._staged.clear()
        return written


def _overwrite_message(path: Path, test: str) -> str:
    return (
        f"{path}: the baseline of {test} was refreshed by another run after this run read it; "
        "this run's entry replaced it (the last writer wins)"
    )


def _rendered(path: Path, machine: str, backend: str, entries: Dict[str, BaselineEntry]) -> str:
    try:
        return render(machine, backend, entries)
    except ValueError as error:  # json refuses a NaN or infinity in a test's configuration
        raise BaselineError(path, f"cannot be written: {error} (a value in a test's configuration?)") from None
