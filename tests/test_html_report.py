"""The HTML page: self-contained; what needs a look first, a row per test, backends side by side, details folded."""

import json
import re
from html.parser import HTMLParser

from report_data import make_test, metric, report

from pytest_aotperf.cli import main
from pytest_aotperf.reporting.html import render_html
from pytest_aotperf.reporting.svg import PLOTTED_SAMPLES, Mark, line_plot, sparkline, strip_plot
from pytest_aotperf.results import RunReport

REPORT = {
    "schema": "pytest-aotperf/report/1",
    "machine": "test-machine",
    "settings": {},
    "baselines_written": [],
    "environment": {"commit": "abc123", "time": "2026-01-02T03:04:05+00:00", "device": "H100"},
    "tests": [
        {
            "nodeid": "test_perf.py::test_op[eager]",
            "module": "test_perf.py",
            "test": "test_op[eager]",
            "backend": "eager",
            "passed": False,
            "failures": ["..."],
            "baseline_changes": {},
            "config": {},
            "metrics": {
                "latency": {
                    "unit": "s",
                    "better": "lower",
                    "kind": "timing",
                    "value": 0.003,
                    "samples": [0.0029, 0.003, 0.0031, 0.5],
                },
                "gpu_peak_allocated": {
                    "unit": "B",
                    "better": "lower",
                    "kind": "memory",
                    "unavailable": "no CUDA device <here>",
                },
            },
            "verdicts": {
                "latency": {
                    "status": "regressed",
                    "current": 0.003,
                    "baseline": 0.002,
                    "change": 0.5,
                    "unit": "s",
                    "tolerance": 0.1,
                },
                "gpu_peak_allocated": {"status": "unavailable", "unit": "B", "tolerance": 0.05},
            },
        }
    ],
}
BACKENDS = report(
    make_test(
        "test_model[eager-mlp-1]",
        "eager",
        {"latency": metric(0.004, samples=[0.004] * 1000), "replays": metric(0, "count")},
    ),
    make_test(
        "test_model[cudagraph-mlp-1]",
        "cudagraph",
        {"latency": metric(0.001), "replays": metric(0, "count"), "throughput": metric(900.0, "1/s", "higher")},
        {"latency": "noisy", "throughput": "improved"},
        baseline_scale=0.5,
    ),
)


class Node:
    """An element of a parsed page: its tag, attributes, children and text."""

    def __init__(self, tag, attrs):
        self.tag, self.attrs, self.children, self.parts = tag, dict(attrs), [], []

    def text(self):
        return "".join(part if isinstance(part, str) else part.text() for part in self.parts)

    def all(self, tag, **attrs):
        found = []
        for child in self.children:
            if child.tag == tag and all(child.attrs.get(k) == v for k, v in attrs.items()):
                found.append(child)
            found += child.all(tag, **attrs)
        return found


class Tree(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self, page):
        super().__init__()
        self.root = Node("document", {})
        self.stack = [self.root]
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs)
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, attrs)
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].parts.append(data)


def parse(page):
    tree = Tree(page)
    assert tree.stack == [tree.root], "unclosed elements"
    return tree.root


def section(page, name):
    (found,) = parse(page).all("section", id=name)
    return found


def test_the_page_needs_no_network():
    page = render_html(RunReport.from_json(REPORT))
    assert not re.search(r"(src|href)\s*=|@import|url\(|<script", page)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page


def test_the_page_reads_top_down():
    page = parse(render_html(BACKENDS))
    assert [s.attrs["id"] for s in page.all("section")] == ["attention", "tests", "backends", "details"]
    assert page.all("h1")[0].text() == "aotperf: 0 regressed, 1 noisy, 1 improved, 0 new, 3 unchanged"


def test_regressions_come_first_each_with_its_samples_band_and_message():
    attention = section(render_html(RunReport.from_json(REPORT)), "attention")
    (heading,) = attention.all("h2")
    assert heading.text() == "Regressions (1)"
    (card,) = [div for div in attention.all("div") if div.attrs.get("class") == "card"]
    assert "test_op[eager] · latency" in card.text()
    assert "latency 3.00 ms vs baseline 2.00 ms (+50.0%, tolerance 10%)" in card.text()
    assert card.all("rect") and card.all("path")  # the baseline's band and the samples


def test_each_up_front_status_has_its_section_in_the_tables_order():
    attention = section(render_html(BACKENDS), "attention")
    assert [h.text() for h in attention.all("h2")] == [
        "Too noisy to judge (1)",
        "Improvements beyond the tolerance (stale baselines) (1)",
    ]


def test_a_run_with_nothing_wrong_says_so_in_one_line():
    run = report(make_test("t[eager]", "eager", {"latency": metric(0.001)}))
    attention = section(render_html(run), "attention")
    assert [(p.attrs["class"], p.text()) for p in attention.all("p")] == [
        ("clear", "Nothing regressed, noisy or improved: 1 unchanged.")
    ]
    assert not attention.all("svg") and not parse(render_html(run)).all("section", id="backends")


def test_one_row_per_test_with_its_key_metrics():
    table = section(render_html(BACKENDS), "tests")
    assert [th.text() for th in table.all("th")] == ["test", "backend", "verdict", "latency", "throughput"]
    rows = [[td.text() for td in tr.all("td")] for tr in table.all("tbody")[0].all("tr")]
    assert rows == [
        ["test_model[eager-mlp-1]", "eager", "unchanged", "4.00 ms +0.0%", ""],
        ["test_model[cudagraph-mlp-1]", "cudagraph", "noisy", "1.00 ms +100.0%", "900 1/s +100.0%"],
    ]


def test_a_trend_per_test_when_the_history_is_given():
    page = render_html(BACKENDS, trends={("test_model[eager-mlp-1]", "eager"): [1.0, 1.1, 1.3]})
    table = section(page, "tests")
    assert table.all("th")[-1].text() == "latency trend"
    first, second = (tr.all("td")[-1] for tr in table.all("tbody")[0].all("tr"))
    assert len(first.all("polyline")[0].attrs["points"].split()) == 3 and not second.all("svg")


def test_backends_side_by_side_with_ratios_to_the_reference():
    backends = section(render_html(BACKENDS), "backends")
    assert [th.text() for th in backends.all("th")] == ["test", "metric", "eager", "cudagraph"]
    rows = [[td.text() for td in tr.all("td")] for tr in backends.all("tr")[1:]]
    assert rows == [["test_model[mlp-1]", "latency", "4.00 ms", "1.00 ms 0.2500x"], ["replays", "0", "0"]]
    reversed_ = section(render_html(BACKENDS, reference="cudagraph"), "backends")
    assert [th.text() for th in reversed_.all("th")][2:] == ["cudagraph", "eager"]


def test_details_are_folded_and_counts_equal_and_zero_are_listed_not_plotted():
    details = section(render_html(BACKENDS), "details").all("details")
    assert [d.all("summary")[0].text() for d in details] == [
        "test_model[eager-mlp-1] (eager): unchanged, 2 metrics",
        "test_model[cudagraph-mlp-1] (cudagraph): noisy, 3 metrics",
    ]
    first = details[0]
    assert "Equal and zero (not plotted): replays" in first.text()
    assert len(first.all("svg")) == 1 and len(first.all("tr")) == 3


def test_a_plot_draws_at_most_so_many_samples():
    path = section(render_html(BACKENDS), "details").all("details")[0].all("path")[0]
    assert path.attrs["d"].count("h0") == PLOTTED_SAMPLES


def test_the_plot_shades_the_tolerance_band_around_the_baseline():
    svg = strip_plot(current=1.0, baseline=1.0, tolerance=0.1, samples=[], unit="s", color="red", width=120)
    band = re.search(r"<rect x='([\d.]+)' y='\d+' width='([\d.]+)'", svg)
    lines = [float(x) for x in re.findall(r"<line x1='([\d.]+)' x2='\1' y1='14'", svg)]
    left, width = float(band.group(1)), float(band.group(2))
    assert all(abs(x - (left + width / 2)) < 0.2 for x in lines) and len(lines) == 2


def test_outlying_samples_are_counted_not_allowed_to_squash_the_plot():
    samples = [1.0 + i * 0.001 for i in range(20)] + [100.0]
    svg = strip_plot(current=1.01, baseline=1.0, tolerance=0.1, samples=samples, unit="s", color="red")
    assert "1 sample(s) beyond the axis" in svg


def test_sparkline_and_line_plot_with_a_noise_band_and_marked_runs():
    assert sparkline([]) == "" and len(parse(sparkline([3.0])).all("circle")) == 1
    svg = parse(
        line_plot(
            [("run 1 abc", 1.0), ("run 2 def", 1.0), ("run 3 0123", 2.0)],
            "s",
            noise=[(0.9, 1.1)] * 3,
            marks=[Mark(2, "regressed", "red"), Mark(2, "change point", "orange", line=True)],
        )
    )
    assert len(svg.all("polygon")[0].attrs["points"].split()) == 6
    hovers = [c.all("title")[0].text() for c in svg.all("circle")]
    assert hovers[0] == "run 1 abc: 1.00 s" and hovers[2] == "run 3 0123: 2.00 s (regressed)"
    assert [line.all("title")[0].text() for line in svg.all("line") if line.all("title")] == ["change point"]


def test_aotperf_report_writes_the_page(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(REPORT))
    assert main(["report", str(path), "--html", str(tmp_path / "out.html"), "--reference", "inductor"]) == 0
    assert (tmp_path / "out.html").read_text() == render_html(RunReport.from_json(REPORT), "inductor")
