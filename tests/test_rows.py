"""The row model: statuses from one table, rows per test, key metrics, backends grouped, tables that fit."""

import pytest
from report_data import make_test, metric, report

from pytest_aotperf.metrics import Metric
from pytest_aotperf.reporting.rows import (
    STATUS_TABLE,
    abbreviate,
    all_clear,
    attention_rows,
    backend_groups,
    backend_table,
    comparison_key,
    headline,
    key_columns,
    measured_tests,
    metric_group,
    render_table,
    report_rows,
)
from pytest_aotperf.results import PerfTestId

BACKENDS = report(
    make_test("test_model[eager-mlp-1]", "eager", {"latency": metric(0.004), "host_peak_rss": metric(100, "B")}),
    make_test(
        "test_model[cudagraph-mlp-1]",
        "cudagraph",
        {"latency": metric(0.001), "host_peak_rss": metric(100, "B"), "replays": metric(5, "count")},
        {"latency": "regressed"},
    ),
    make_test("test_model[vllm-mlp-1]", "vllm", {"latency": metric(0.0005)}),
    make_test("test_model[eager-mlp-4]", "eager", {"latency": metric(0.002)}),
)


@pytest.mark.parametrize(
    "name, backend, expected",
    [
        ("test_model[eager-mlp-1]", "eager", "test_model[mlp-1]"),
        ("test_model[mlp-1-cudagraph]", "cudagraph", "test_model[mlp-1]"),
        ("test_gen[vllm]", "vllm", "test_gen"),
        ("test_model[eager-llama-3-8b]", "eager", "test_model[llama-3-8b]"),
        ("test_model[inductor_fast-1]", "inductor", "test_model[inductor_fast-1]"),
        ("test_loop", "none", "test_loop"),
    ],
)
def test_the_identity_apart_from_the_backend_takes_the_backend_id_out(name, backend, expected):
    assert comparison_key(PerfTestId.of(f"t.py::{name}", backend)) == ("t.py", expected)


def test_backends_of_one_test_are_compared_with_the_reference():
    (group,) = backend_groups(BACKENDS)
    assert group.name == "test_model[mlp-1]" and group.backends == ("eager", "cudagraph", "vllm")
    metrics = dict(group.metrics)
    assert list(metrics) == ["latency", "host_peak_rss"]  # replays: only one backend measured it
    eager, cudagraph, vllm = metrics["latency"]
    assert (eager.ratio, cudagraph.ratio, vllm.ratio) == ("", "0.2500x", "0.1250x")
    assert cudagraph.better is True and metrics["host_peak_rss"][1].better is None
    header, rows = backend_table([group])
    assert header == ("test", "metric", "eager", "cudagraph", "vllm")
    assert rows[0] == ("test_model[mlp-1]", "latency", "4.00 ms", "1.00 ms (0.2500x)", "500 µs (0.1250x)")
    assert rows[1][-1] == "-"


def test_another_reference_and_a_group_without_it():
    (group,) = backend_groups(BACKENDS, reference="cudagraph")
    assert group.reference == "cudagraph" and dict(group.metrics)["latency"][0].ratio == "4.000x"
    (group,) = backend_groups(BACKENDS, reference="tpu")
    assert group.reference == "eager"


def test_rows_per_test_with_their_key_metrics():
    tests = measured_tests(BACKENDS)
    assert [t.test.name for t in tests][:2] == ["test_model[eager-mlp-1]", "test_model[cudagraph-mlp-1]"]
    assert tests[1].status == "regressed" and tests[0].status == "unchanged"
    assert key_columns(tests) == ["latency", "peak memory"]
    assert tests[0].key("peak memory").metric == "host_peak_rss" and tests[2].key("peak memory") is None


def test_statuses_come_from_one_table():
    rows = report_rows(BACKENDS)
    assert [s.status for s in STATUS_TABLE][:2] == ["regressed", "noisy"]
    assert headline(rows) == "1 regressed, 0 noisy, 0 improved, 0 new, 6 unchanged"
    assert [r.metric for r in attention_rows(rows)] == ["latency"]
    assert all_clear(rows[:1]) == "Nothing regressed, noisy or improved: 1 unchanged."


def test_a_table_fits_the_width_by_abbreviating_the_widest_columns():
    rows = [("test_model[inductor-encoder-16]", "inductor", "gpu_peak_allocated", "1.00 ms", "regressed")]
    lines = render_table(rows, ("test", "backend", "metric", "current", "verdict"), width=50)
    assert all(len(line) <= 50 for line in lines)
    assert lines[0].split() == ["test", "backend", "metric", "current", "verdict"]
    assert "…" in lines[2] and lines[2].endswith("1.00 ms  regressed")
    assert abbreviate("test_model[inductor-encoder-16]", 16) == "test_m…coder-16]"
    assert render_table(rows, ("a", "b", "c", "d", "e"))[2].startswith("test_model[inductor-encoder-16]  ")


@pytest.mark.parametrize(
    "kind, better, group",
    [
        ("timing", "lower", "latency"),
        ("value", "higher", "throughput"),
        ("value", "lower", "other"),
        ("memory", "lower", "memory"),
        ("duration", "lower", "compile"),
        ("count", "lower", "counts"),
    ],
)
def test_each_metric_counts_in_the_group_of_its_kind(kind, better, group):
    assert metric_group(Metric("m", "", better, kind, value=1.0)) == group
    assert metric_group(None) == "other"
