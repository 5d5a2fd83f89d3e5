"""Baseline files and the refresh rule, without pytest runs."""

import json
import os

import pytest

from pytest_aotperf.atomic import write_atomic
from pytest_aotperf.baselines.entries import BaselineEntry
from pytest_aotperf.baselines.files import BaselineError, baseline_path, load_file, machines_with_baselines, render
from pytest_aotperf.baselines.refresh import RefreshRequest, refreshed_entry
from pytest_aotperf.metrics import Metric
from pytest_aotperf.results import ADDED, KEPT, UPDATED, PerfTestId
from pytest_aotperf.verdict import judge


def latency(scale=1.0, name="latency"):
    samples = tuple(scale * (1e-3 + 1e-6 * (i % 10)) for i in range(100))
    return Metric.from_samples(name, samples)


def entry_of(*metrics, environment=None):
    return BaselineEntry({m.name: m.stored() for m in metrics}, environment or {"time": "then"}, {})


def refreshed(old, metrics, environment, force, prior_runs=None):
    """The refresh of `metrics` judged against `old` under a 10% tolerance, as a run stages it."""
    verdicts = {m.name: judge(m, old.metrics.get(m.name) if old else None, 0.10) for m in metrics}
    request = RefreshRequest(
        PerfTestId.of("t.py::t", "eager"), tuple(metrics), verdicts, environment, {}, prior_runs or {}
    )
    return refreshed_entry(old, request, force)


def test_path_layout(tmp_path):
    assert (
        baseline_path(tmp_path, "nvidia-h100", "inductor", "example_tests/test_models.py")
        == tmp_path / "nvidia-h100" / "inductor" / "example_tests" / "test_models.json"
    )


def test_round_trip_is_deterministic(tmp_path):
    entries = {"test_b": entry_of(latency()), "test_a": entry_of(latency(2))}
    text = render("cpu-x", "eager", entries)
    assert text.endswith("}\n") and text == render("cpu-x", "eager", dict(reversed(list(entries.items()))))
    path = tmp_path / "f.json"
    write_atomic(path, text)
    assert render("cpu-x", "eager", load_file(path)) == text


def test_write_atomic_leaves_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    path.write_text("old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_unchanged_text_is_not_rewritten(tmp_path):
    path = tmp_path / "f.json"
    assert write_atomic(path, "x\n") is True
    mtime = path.stat().st_mtime_ns
    assert write_atomic(path, "x\n") is False
    assert path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "is not valid JSON"),
        ('{"schema": "other"}', "expected schema 'pytest-aotperf/baseline/1'"),
        (
            '{"schema": "pytest-aotperf/baseline/1", "tests": {"t": {"metrics": {"latency": {"unit": "s"}}}}}',
            "tests.t.metrics.latency: missing field 'better'",
        ),
        (
            '{"schema": "pytest-aotperf/baseline/1", "tests": {"t": {"metrics": {"latency": '
            '{"unit": "s", "better": "lower", "kind": "timing", "value": "fast"}}}}}',
            "expected a number",
        ),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "f.json"
    path.write_text(content)
    with pytest.raises(BaselineError) as error:
        load_file(path)
    assert str(path) in str(error.value) and problem in str(error.value)
    assert path.read_text() == content


def test_missing_file_has_no_entries(tmp_path):
    assert load_file(tmp_path / "none.json") == {}


def test_machines_with_baselines(tmp_path):
    (tmp_path / "nvidia-h100" / "eager").mkdir(parents=True)
    (tmp_path / "nvidia-h100" / "eager" / "t.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    assert machines_with_baselines(tmp_path) == ["nvidia-h100"]


def test_refresh_keeps_an_entry_that_did_not_change_credibly():
    old = entry_of(latency())
    new, changes = refreshed(old, [latency(1.01)], {"time": "now"}, force=False)
    assert new is old and changes == {"latency": KEPT}


def test_refresh_rewrites_a_credible_change_and_only_that_metric():
    old = entry_of(latency(), latency(name="other"))
    new, changes = refreshed(old, [latency(1.5), latency(1.0, name="other")], {"time": "now"}, force=False)
    assert changes == {"latency": UPDATED, "other": KEPT}
    assert new.metrics["latency"].value == pytest.approx(1.5 * old.metrics["latency"].value, rel=1e-3)
    assert new.metrics["other"] is old.metrics["other"]
    assert new.environment == {"time": "now"}


def test_forced_refresh_and_new_metrics():
    old = entry_of(latency())
    new, changes = refreshed(old, [latency(1.0), latency(name="added")], {}, force=True)
    assert changes == {"latency": UPDATED, "added": ADDED}


def test_refresh_with_runs_records_every_run():
    new, changes = refreshed(None, [latency()], {}, force=False, prior_runs={"latency": (0.9e-3, 1.1e-3)})
    assert changes == {"latency": ADDED}
    assert new.metrics["latency"].runs == (0.0009, 0.0011, pytest.approx(1.0045e-3))


def test_stored_samples_are_bounded_and_json_has_no_pickle(tmp_path):
    many = tuple(1e-3 + 1e-9 * i for i in range(5000))
    metric = Metric.from_samples("latency", many)
    data = json.loads(render("m", "b", {"t": entry_of(metric)}))
    stored = data["tests"]["t"]["metrics"]["latency"]
    assert len(stored["samples"]) == 200 and stored["summary"]["n"] == 5000
