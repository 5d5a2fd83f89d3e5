"""The end-of-run table: what needs a look by default, a count of the rest, within the terminal's width."""

from report_data import make_test, metric, report

from pytest_aotperf.reporting.terminal import SHOW_ALL_HINT, summary_lines

RUN = report(
    make_test("test_model[inductor-encoder-16]", "inductor", {"latency": metric(0.002)}, {"latency": "regressed"}),
    make_test(
        "test_model[inductor-encoder-4]",
        "inductor",
        {"latency": metric(0.001), "gpu_peak_allocated": metric(2**30, "B")},
        {"latency": "improved"},
    ),
    make_test("test_model[eager-encoder-16]", "eager", {"latency": metric(0.003), "throughput": metric(5e3, "1/s")}),
)


def test_by_default_only_what_needs_a_look_and_a_count_of_the_rest():
    lines = summary_lines(RUN)
    assert lines[0] == "1 regressed, 0 noisy, 1 improved, 0 new, 3 unchanged"
    table = "\n".join(lines[1:-1])
    assert "regressed" in table and "improved" in table and "unchanged" not in table
    assert table.index("regressed") < table.index("improved")
    assert lines[-1] == f"not shown: 3 unchanged ({SHOW_ALL_HINT})"


def test_everything_on_request():
    lines = summary_lines(RUN, everything=True)
    assert sum("unchanged" in line for line in lines[1:]) == 3 and "not shown" not in lines[-1]


def test_within_80_columns_each_test_heads_its_metrics():
    lines = summary_lines(RUN, everything=True, width=80)
    assert max(map(len, lines)) <= 80
    assert lines[1].split()[:4] == ["test", "/", "metric", "baseline"]
    at = lines.index("test_model[inductor-encoder-4] (inductor)")
    assert lines[at + 1].split()[0] == "gpu_peak_allocated" and lines[at + 2].split()[0] == "latency"
    assert summary_lines(RUN, everything=True, width=200)[1].split()[:3] == ["test", "backend", "metric"]
