"""`aotperf compare`: two reports side by side, or one report's backends side by side."""

import json

import pytest
from report_data import make_test, metric, report

from pytest_aotperf.cli import main

RUN = report(
    make_test("test_model[eager-mlp-1]", "eager", {"latency": metric(0.004)}),
    make_test("test_model[cudagraph-mlp-1]", "cudagraph", {"latency": metric(0.001)}),
    make_test("test_model[vllm-mlp-1]", "vllm", {"latency": metric(0.0005)}),
)


@pytest.fixture
def run_json(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(RUN.to_json()))
    return path


def test_backends_of_one_report_with_ratios_to_eager(run_json, capsys):
    assert main(["compare", "--backends", str(run_json)]) == 0
    header, _, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["test", "metric", "eager", "cudagraph", "vllm"]
    assert [cell.strip() for cell in row.split("  ") if cell.strip()] == [
        "test_model[mlp-1]",
        "latency",
        "4.00 ms",
        "1.00 ms (0.2500x)",
        "500 µs (0.1250x)",
    ]


def test_another_reference(run_json, capsys):
    assert main(["compare", "--backends", str(run_json), "--reference", "cudagraph"]) == 0
    assert "4.00 ms (4.000x)" in capsys.readouterr().out


def test_a_report_without_tests_on_several_backends(tmp_path, capsys):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(report(make_test("t[eager]", "eager", {"latency": metric(0.001)})).to_json()))
    assert main(["compare", "--backends", str(path)]) == 0
    assert "no test of this report ran on more than one backend" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--backends", "a.json", "b.json"], ["a.json"]])
def test_two_reports_or_one_with_backends(args):
    with pytest.raises(SystemExit) as exit_:
        main(["compare", *args])
    assert exit_.value.code == 2
