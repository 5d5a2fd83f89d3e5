"""Baseline files and the refresh rule, without pytest runs."""

import json
import math
import multiprocessing
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pytest_aotperf.atomic import write_atomic
from pytest_aotperf.baselines.entries import BaselineEntry
from pytest_aotperf.baselines.files import (
    SCHEMA,
    BaselineError,
    UnsafeNameError,
    baseline_path,
    load_file,
    machines_with_baselines,
    render,
)
from pytest_aotperf.baselines.refresh import RefreshRequest, refreshed_entry
from pytest_aotperf.baselines.store import BaselineOverwriteWarning, BaselineStore
from pytest_aotperf.measure.stats import Summary
from pytest_aotperf.metrics import BETTER_VALUES, KIND_VALUES, Metric
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


@pytest.mark.parametrize(
    "machine, backend, module",
    [
        ("../../escape", "eager", "t.py"),
        ("/abs", "eager", "t.py"),
        ("a..b", "eager", "t.py"),
        ("", "eager", "t.py"),
        ("m", "..", "t.py"),
        ("m", "eager/../..", "t.py"),
        ("m", "eager", "../outside/t.py"),
        ("m", "eager", "/etc/t.py"),
        ("m", "eager", "tests/../../t.py"),
        ("m", "eager", "te st.py"),
    ],
)
def test_names_that_would_leave_the_baseline_folder_are_refused(tmp_path, machine, backend, module):
    with pytest.raises(UnsafeNameError, match="is not allowed"):
        baseline_path(tmp_path, machine, backend, module)


def test_a_path_that_leaves_the_baseline_folder_through_a_link_is_refused(tmp_path):
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "m").symlink_to(tmp_path)
    with pytest.raises(UnsafeNameError, match="lies outside the baseline folder"):
        baseline_path(tmp_path / "baselines", "m", "eager", "t.py")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_tokens_are_refused_naming_the_file(tmp_path, token):
    path = tmp_path / "f.json"
    content = json.loads(render("m", "eager", {"t": entry_of(latency())}))
    content["tests"]["t"]["metrics"]["latency"]["value"] = "TOKEN"
    text = json.dumps(content).replace('"TOKEN"', token)
    path.write_text(text)
    with pytest.raises(BaselineError, match=f"{path}: is not valid JSON: {token} is not a JSON number"):
        load_file(path)
    assert path.read_text() == text


@pytest.mark.parametrize(
    "kind, value", [("memory", "-1"), ("duration", "-5.0"), ("timing", "-1e-3"), ("value", "1e999")]
)
def test_negative_sizes_and_times_and_overflowing_numbers_are_refused(tmp_path, kind, value):
    metric = {"unit": "s", "better": "lower", "kind": kind, "value": "VALUE"}
    path = tmp_path / "f.json"
    path.write_text(
        json.dumps({"schema": SCHEMA, "tests": {"t": {"metrics": {"m": metric}}}}).replace('"VALUE"', value)
    )
    with pytest.raises(BaselineError, match=f"{path}: tests.t.metrics.m(.value)?: .*(negative|finite)"):
        load_file(path)


def test_a_metric_refuses_nan_infinity_and_negative_times():
    with pytest.raises(ValueError, match="metric 'score': nan is not a finite number.*record_unavailable"):
        Metric("score", "", "higher", "value", value=math.nan)
    with pytest.raises(ValueError, match="metric 'latency': inf is not a finite number"):
        Metric.from_samples("latency", [1e-3, math.inf])
    with pytest.raises(ValueError, match="metric 'compile_s': a duration metric cannot be negative, found -5.0"):
        Metric("compile_s", "s", "lower", "duration", value=-5.0)
    assert Metric("delta", "", "lower", "value", value=-5.0).value == -5.0


def store_with(tmp_path, test, scale):
    """A store that read the baselines as they are, with a refresh of `test` staged."""
    store = BaselineStore(tmp_path, "m")
    test_id = PerfTestId.of(f"t.py::{test}", "eager")
    metric = latency(scale)
    store.refresh(RefreshRequest(test_id, (metric,), {"latency": judge(metric, None, 0.1)}, {}, {}), force=True)
    return store


def test_writers_merge_into_the_file_as_it_is_when_they_write(tmp_path, recwarn):
    first, second = store_with(tmp_path, "test_a", 1.0), store_with(tmp_path, "test_b", 2.0)
    first.write()
    second.write()  # read the file before the first wrote it
    assert set(load_file(tmp_path / "m" / "eager" / "t.json")) == {"test_a", "test_b"}
    assert not recwarn.list


def test_the_last_writer_of_one_test_wins_and_says_so(tmp_path):
    first, second = store_with(tmp_path, "test_a", 1.0), store_with(tmp_path, "test_a", 2.0)
    first.write()
    with pytest.warns(BaselineOverwriteWarning, match="t.json: the baseline of test_a was refreshed by another run"):
        second.write()
    stored = load_file(tmp_path / "m" / "eager" / "t.json")["test_a"].metrics["latency"].value
    assert stored == pytest.approx(2e-3, rel=0.01)


def refresh_many(root, prefix, count):
    """Refresh `count` tests one write at a time, each write a read-modify-write of the one file."""
    for index in range(count):
        store_with(root, f"{prefix}{index}", 1.0).write()


def test_two_processes_writing_one_file_keep_every_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=refresh_many, args=(tmp_path, prefix, 25)) for prefix in ("a", "b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    names = set(load_file(tmp_path / "m" / "eager" / "t.json"))
    assert names == {f"{prefix}{index}" for prefix in "ab" for index in range(25)}
    assert [p.name for p in (tmp_path / "m" / "eager").iterdir()] == ["t.json"]


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
NUMBERS = st.lists(st.floats(min_value=0, max_value=1e3) | st.floats() | st.integers(), max_size=4)
SUMMARY = st.fixed_dictionaries(
    {key: st.floats(min_value=0, max_value=1e3) | st.floats() for key in Summary.__dataclass_fields__}
)
WELL_TYPED = {
    "value": st.floats(min_value=0, max_value=1e3) | st.floats() | st.integers(),
    "samples": NUMBERS,
    "summary": SUMMARY,
    "runs": NUMBERS,
    "flags": st.lists(st.text(max_size=4), max_size=2),
    "context": st.dictionaries(st.text(max_size=4), ANY_JSON, max_size=2),
    "unavailable": st.text(max_size=6),
}
KEYS = {
    "unit": st.sampled_from(["s", "B"]),
    "better": st.sampled_from(BETTER_VALUES),
    "kind": st.sampled_from(KIND_VALUES),
}
MEASURED = {k: v for k, v in WELL_TYPED.items() if k not in ("value", "unavailable")}
SECONDS = {"unit": "s", "better": "lower", "kind": "timing"}
METRIC = (
    st.fixed_dictionaries({**KEYS, "value": WELL_TYPED["value"]}, optional=MEASURED)
    | st.fixed_dictionaries({**KEYS, "unavailable": WELL_TYPED["unavailable"]})
    | st.fixed_dictionaries(KEYS, optional={k: v | ANY_JSON for k, v in WELL_TYPED.items()})
)
ENTRY = st.fixed_dictionaries(
    {"metrics": st.dictionaries(st.text(max_size=6), METRIC, min_size=1, max_size=3) | ANY_JSON},
    optional={"environment": st.dictionaries(st.text(max_size=4), ANY_JSON) | ANY_JSON, "config": ANY_JSON},
)
BASELINE = st.fixed_dictionaries(
    {"schema": st.just(SCHEMA), "tests": st.dictionaries(st.text(max_size=6), ENTRY, min_size=1, max_size=3)}
)
"""Documents near a baseline's schema, so the fuzzing reaches every field's checks, not only the first."""
VALID_TEXT = render("m", "eager", {"t": entry_of(latency())}).encode()
MANGLED = st.builds(
    lambda cut, insert: VALID_TEXT[:cut] + insert + VALID_TEXT[cut + 1 :],
    st.integers(0, len(VALID_TEXT)),
    st.binary(max_size=4),
)
FUZZ = settings(
    max_examples=500, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
"""Derandomized, so that CI sees the same examples on every run; the examples below are what it found before."""


def loads_or_names_the_file(folder, raw):
    """`raw` as a baseline file either loads into entries that render and read back equal, or raises
    a BaselineError naming the file; the file is left byte for byte as it was."""
    path = folder / "fuzzed.json"
    path.write_bytes(raw)
    try:
        entries = load_file(path)
    except BaselineError as error:
        assert str(error).startswith(f"{path}: ")
    else:
        again = folder / "rendered.json"
        again.write_text(render("m", "eager", entries))
        assert load_file(again) == entries
    assert path.read_bytes() == raw


@FUZZ
@given(raw=st.binary(max_size=300) | MANGLED)
@example(raw=b"[" * 100_000)
@example(raw=b"\xff\xfe{}")
def test_fuzz_any_bytes_load_or_name_the_file(tmp_path, raw):
    loads_or_names_the_file(tmp_path, raw)


@FUZZ
@given(document=BASELINE | ANY_JSON)
@example(document={"schema": SCHEMA, "tests": {"t": {"metrics": {"m": {**SECONDS, "value": 0.0, "samples": [0.0]}}}}})
def test_fuzz_any_json_document_loads_or_names_the_file(tmp_path, document):
    loads_or_names_the_file(tmp_path, json.dumps(document).encode())
