"""The git side of `aotperf ab`: the repository, the base commit, and a temporary worktree holding it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

DEFAULT_BRANCHES = ("origin/main", "origin/master", "main", "master")
"""Tried in order when the remote's HEAD names no default branch."""


class GitError(RuntimeError):
    """A git command failed; the message names the command and what git said."""


def git(directory: Path, *args: str) -> str:
    """The output of `git ARGS` run in `directory`, stripped."""
    try:
        done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=120)
    except OSError as error:
        raise GitError(f"cannot run git in {directory}: {error}") from None
    if done.returncode != 0:
        raise GitError(f"`git {' '.join(args)}` in {directory} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def repository_root(directory: Path) -> Path:
    return Path(git(directory, "rev-parse", "--show-toplevel"))


def commit_of(root: Path, ref: str) -> Optional[str]:
    """The commit `ref` names, or None when it names none."""
    try:
        return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError:
        return None


def default_branch(root: Path) -> str:
    """The default branch: the remote's HEAD, else the first of DEFAULT_BRANCHES that exists."""
    try:
        branch: Optional[str] = git(root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    except GitError:
        branch = next((name for name in DEFAULT_BRANCHES if commit_of(root, name)), None)
    if branch is None:
        raise GitError(
            f"{root}: no default branch found ({', '.join(DEFAULT_BRANCHES)}, or origin/HEAD); name BASE, "
            "e.g. `aotperf ab main`"
        )
    return branch


def uncommitted_digest(root: Path, leave_out: Path) -> str:
    """A digest of what the working tree holds beyond HEAD: tracked changes and untracked files (names and
    contents), leaving out files under `leave_out` (a work folder inside the tree changes as it runs)."""
    digest = hashlib.sha256(git(root, "diff", "HEAD", "--binary").encode())
    outside = leave_out.resolve()
    for name in sorted(n for n in git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0") if n):
        path = (root / name).parent.resolve() / Path(name).name
        if path != outside and outside not in path.parents:
            content = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            digest.update(name.encode() + b"\0" + content)
    return digest.hexdigest()


def remove_stale_worktree(root: Path, path: Path) -> None:
    """A worktree left at `path` by a run that was stopped before it could remove it: deleted and unregistered."""
    if path.exists():
        shutil.rmtree(path)
    git(root, "worktree", "prune")


@contextmanager
def worktree(root: Path, commit: str, path: Path) -> Iterator[Path]:
    """`commit` checked out (detached) at `path` for the duration; removed afterwards."""
    git(root, "worktree", "add", "--detach", str(path), commit)
    try:
        yield path
    finally:
        git(root, "worktree", "remove", "--force", str(path))
