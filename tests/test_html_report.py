"""The HTML page: self-contained, the run's table, one plot per metric with its tolerance band."""

import json
import re

from pytest_aotperf.cli import main
from pytest_aotperf.reporting.html import render_html, strip_plot
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


def test_the_page_needs_no_network():
    page = render_html(RunReport.from_json(REPORT))
    assert not re.search(r"(src|href)\s*=|@import|url\(|<script", page)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page


def test_the_page_has_the_table_and_a_plot_per_measured_metric():
    page = render_html(RunReport.from_json(REPORT))
    assert "<td>test_op[eager]</td><td>eager</td><td>latency</td>" in page
    assert "2.00 ms" in page and "3.00 ms" in page and "+50.0%" in page and ">regressed<" in page
    assert page.count("<svg") == 1
    assert "no CUDA device &lt;here&gt;" in page


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


def test_aotperf_report_writes_the_page(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(REPORT))
    assert main(["report", str(path), "--html", str(tmp_path / "out.html")]) == 0
    assert (tmp_path / "out.html").read_text() == render_html(RunReport.from_json(REPORT))
