"""scripts/gpu_steps.sh: a device session's steps under one deadline, continued by the next call."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def steps(tmp_path, seconds, *commands):
    """The script's lines, with each step's seconds written as N."""
    environment = {"PATH": "/usr/bin:/bin", "OUT": str(tmp_path), "GPU_STEPS_STATE": str(tmp_path / "state")}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/gpu_steps.sh"), str(seconds), *commands],
        cwd=tmp_path,
        env={**environment, "GPU_STEPS_MIN_S": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return [re.sub(r"\b-?\d+ s\b", "N s", line) for line in result.stdout.splitlines()]


def test_a_step_cut_off_by_the_deadline_runs_again_in_the_next_call_and_a_finished_one_does_not(tmp_path):
    assert steps(tmp_path, 4, "echo ran >> $OUT/log", "sleep 30", "echo later") == [
        "exit 0 in N s: echo ran >> $OUT/log",
        "exit 124 in N s: sleep 30",
        "not started, N s left: echo later",
    ]
    assert steps(tmp_path, 10, "echo ran >> $OUT/log", "true", "echo later") == [
        "done in an earlier call: echo ran >> $OUT/log",
        "exit 0 in N s: true",
        "later",
        "exit 0 in N s: echo later",
    ]
    assert (tmp_path / "log").read_text() == "ran\n"


def test_a_step_that_fails_is_done_with_its_exit_status(tmp_path):
    assert steps(tmp_path, 10, "exit 3") == ["exit 3 in N s: exit 3"]
    assert steps(tmp_path, 10, "exit 3") == ["done in an earlier call: exit 3"]
