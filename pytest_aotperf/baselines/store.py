"""The baselines of one run: read once per file, changes staged, written at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..results import Metric
from .entries import BaselineEntry
from .refresh import refreshed_entry
from .storage import baseline_path, load_file, render, write_atomic

FileKey = Tuple[str, str]
"""(backend, module path)"""


class BaselineStore:
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

    def _stage(self, backend: str, module: str, test: str, entry: BaselineEntry) -> None:
        self._staged.setdefault((backend, module), {})[test] = entry

    def refresh(
        self,
        backend: str,
        module: str,
        test: str,
        metrics: Sequence[Metric],
        environment: Mapping[str, Any],
        config: Mapping[str, Any],
        tolerance_of: Callable[[Metric], float],
        force: bool,
        prior_runs: Mapping[str, Tuple[float, ...]],
    ) -> Dict[str, str]:
        """Stage the test's refreshed entry (where anything changed); returns what happened to each metric."""
        entry = self.entry(backend, module, test)
        new_entry, changes = refreshed_entry(entry, metrics, environment, config, tolerance_of, force, prior_runs)
        if new_entry is not entry:
            self._stage(backend, module, test, new_entry)
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
