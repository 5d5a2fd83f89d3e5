"""Files replaced whole or not at all (a temporary file beside the target, then a rename), and folder locks."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path
from typing import Iterator

NEW_FILE_MODE = 0o644
"""mkstemp makes files only their owner can read; baselines and reports are for everyone."""


def write_atomic(path: Path, text: str) -> bool:
    """Replace `path` with `text` through a temporary file and a rename. False if it already holds `text`."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = NEW_FILE_MODE  # a new file: nothing to compare with
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temporary, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return True


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (made if missing), waiting for other processes that hold it.

    The lock is flock(2) on the folder itself, so no lock file is left beside the files to be
    committed by mistake; closing the descriptor releases it, also when the process dies.
    """
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
