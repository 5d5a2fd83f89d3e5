"""Files replaced whole or not at all (a temporary file beside the target, then a rename), and folder locks."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import tempfile
from pathlib import Path
from typing import Iterator, Optional

TEMPORARY_SUFFIX = ".tmp"
NEW_FILE_MODE = 0o644
"""mkstemp makes files only their owner can read; baselines and reports are for everyone."""


class WriteError(OSError):
    """A file or folder that cannot be written; the message names the target (never a temporary file) and why."""


def write_atomic(path: Path, text: str) -> bool:
    """Replace `path` with `text` through a temporary file and a rename. False if it already holds `text`.

    A failure is a WriteError naming `path` and the reason; the temporary file is removed.
    """
    try:
        return _write_atomic(path, text)
    except WriteError:
        raise
    except OSError as error:
        raise WriteError(f"cannot write {path}: {_reason(path, error)}") from None


def _write_atomic(path: Path, text: str) -> bool:
    if path.is_dir():
        raise WriteError(f"cannot write {path}: it is a folder; name a file")
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
        mode = path.stat().st_mode & 0o777
    except (FileNotFoundError, UnicodeDecodeError):
        mode = NEW_FILE_MODE  # a new file, or one of other text: nothing to compare with
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=TEMPORARY_SUFFIX, dir=path.parent)
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


def unwritable_reason(path: Path) -> Optional[str]:
    """Why `path` can never be a file written by write_atomic, told before any work is done: it is a folder, or
    a folder above it is a file. None when nothing rules it out yet."""
    if path.is_dir():
        return f"{path} is a folder; name a file"
    return _file_above(path)


def _reason(path: Path, error: OSError) -> str:
    """Why `path` cannot be written, without the name of a temporary file: a folder above it that is a file, or
    the system's reason."""
    return _file_above(path) or error.strerror or str(error)


def _file_above(path: Path) -> Optional[str]:
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            return f"{parent} is a file, not a folder"
    return None


def temporary_prefix(path: Path) -> str:
    """The start of the names of `path`'s temporary files (`.NAME.`); they end with TEMPORARY_SUFFIX."""
    return f".{path.name}."


def remove_stale_temporaries(path: Path) -> None:
    """Remove temporary files a killed write of `path` left beside it. Call with the folder's lock held."""
    for stale in path.parent.glob(f"{glob.escape(temporary_prefix(path))}*{TEMPORARY_SUFFIX}"):
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (made if missing), waiting for other processes that hold it.

    The lock is flock(2) on the folder itself, so no lock file is left beside the files to be
    committed by mistake; closing the descriptor releases it, also when the process dies.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError as error:
        raise WriteError(f"cannot write in {folder}: {_reason(folder / '_', error)}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
