"""The baselines of one run: read once per file, refreshed entries staged, written at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..atomic import write_atomic
from ..results import BaselineChange
from .entries import BaselineEntry
from .files import baseline_path, load_file, render
from .refresh import RefreshRequest, refreshed_entry

FileKey = Tuple[str, str]
"""(backend, module path)"""


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
        """Write every file with staged entries, keeping the other tests' entries; returns the files changed."""
        written = []
        for (backend, module), staged in sorted(self._staged.items()):
            merged = {**self.entries(backend, module), **staged}
            text = render(self.machine, backend, dict(sorted(merged.items())))
            path = self.path(backend, module)
            if write_atomic(path, text):
                written.append(path)
            self._files[(backend, module)] = merged
        self._staged.clear()
        return written
