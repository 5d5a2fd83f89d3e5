"""Keep the engine's log lines: vLLM's engine core writes them from child processes."""

from __future__ import annotations

import collections
import os
import sys
import threading
from typing import Deque, List, Tuple


class ChildOutputTap:
    """While active, fds 1 and 2 go through a pipe that children spawned meanwhile inherit.

    A thread forwards everything to the original stderr and keeps the last lines, for as long as
    any child holds the pipe, so the engine core's later output (and its dying words) are kept too.
    """

    def __init__(self, max_lines: int = 4000) -> None:
        self._lines: Deque[str] = collections.deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._saved: Tuple[int, int] = (-1, -1)
        self._forward_fd = -1

    def __enter__(self) -> "ChildOutputTap":
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        self._forward_fd = os.dup(2)
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        threading.Thread(target=self._pump, args=(read_fd,), name="aotperf-vllm-log", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)

    def lines(self) -> List[str]:
        with self._lock:
            return list(self._lines)

    def _pump(self, read_fd: int) -> None:
        pending = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                os.write(self._forward_fd, chunk)
                pending += chunk
                *complete, pending = pending.split(b"\n")
                with self._lock:
                    self._lines.extend(line.decode(errors="replace") for line in complete)
        os.close(self._forward_fd)
