"""The host-memory probe's process tree."""

import os
import subprocess
import sys
import time

import psutil

from pytest_aotperf.measure.memory import COMPILE_WORKERS, process_tree


def test_process_tree_has_the_children_but_not_inductors_compile_workers_or_zombies():
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    child = subprocess.Popen(sleeper)
    worker = subprocess.Popen([*sleeper, os.path.join("torch", COMPILE_WORKERS, "__main__.py")])
    try:
        while psutil.Process(ended.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.01)
        tree = process_tree()
        assert tree[0] == os.getpid()
        assert child.pid in tree and worker.pid not in tree and ended.pid not in tree
    finally:
        for process in (child, worker, ended):
            process.kill()
            process.wait()
