"""Variants in the LLM benchmark scripts: named compile options, each run beside the backend it changes."""

import json

import pytest

from benchmarks import decode_step, llm_backends
from benchmarks.common import variant_runs

MERGED = '{"merged": {"merge_projections": true}}'


@pytest.mark.parametrize("script", [decode_step, llm_backends])
def test_each_variant_runs_beside_every_backend_that_takes_compile_options(script):
    args = script.parse_args(["--backends", "cudagraph,vllm", "--variants", MERGED])
    assert variant_runs(args.backends, args.variants) == [
        ("cudagraph", "cudagraph", None),
        ("cudagraph[merged]", "cudagraph", "merged"),
        ("vllm", "vllm", None),
    ]
    assert llm_backends.llm_options(args, "cudagraph", "cuda", "merged")["merge_projections"] is True
    assert "merge_projections" not in llm_backends.llm_options(args, "cudagraph", "cuda")


@pytest.mark.parametrize("script", [decode_step, llm_backends])
@pytest.mark.parametrize(
    "backends, variants, message",
    [
        ("vllm", '{"merged": {"merge_projections": true}}', "they change only inductor and cudagraph"),
        ("cudagraph", '{"merge_projections": true}', "give an object of named option objects"),
        ("cudagraph", '{"a b": {}}', "name 'a b' is not letters, digits"),
    ],
)
def test_variants_that_cannot_run_are_refused_naming_the_option(script, backends, variants, message, capsys):
    with pytest.raises(SystemExit):
        script.parse_args(["--backends", backends, "--variants", variants])
    assert f"--variants: {message}" in capsys.readouterr().err


def test_a_variants_tokens_are_compared_with_every_other_run_after_its_backend():
    runs = {"vllm": {}, "cudagraph[merged]": {}, "eager": {}, "cudagraph": {}}
    assert llm_backends.backend_pairs(runs) == [
        ("eager", "cudagraph"),
        ("eager", "cudagraph[merged]"),
        ("eager", "vllm"),
        ("cudagraph", "cudagraph[merged]"),
        ("cudagraph", "vllm"),
        ("cudagraph[merged]", "vllm"),
    ]


def test_runs_kept_from_an_earlier_part_drop_the_variants_this_run_measures_again(tmp_path):
    earlier = tmp_path / "llm_backends.json"
    args = llm_backends.parse_args(["--backends", "cudagraph", "--variants", MERGED])
    arguments = {name: getattr(args, name) for name in llm_backends.COMPARED_ARGS}
    runs = {name: {"warm": {}} for name in ("eager", "cudagraph", "cudagraph[merged]", "cudagraph[other]")}
    earlier.write_text(json.dumps({"args": arguments, "runs": runs}))
    again = ["--backends", "cudagraph", "--variants", MERGED, "--runs-from", str(earlier)]
    kept = llm_backends.earlier_results(llm_backends.parse_args(again))
    assert list(kept["runs"]) == ["eager", "cudagraph[other]"]


def test_the_claims_stay_with_the_plain_backends():
    plain = {"batches": {"1": {"output_tokens_per_s": 600.0}}}
    merged = {"batches": {"1": {"output_tokens_per_s": 700.0}}}
    vllm = {"batches": {"1": {"output_tokens_per_s": 540.0}}}
    runs = {"cudagraph": {"warm": plain}, "cudagraph[merged]": {"warm": merged}, "vllm": {"warm": vllm}}
    rows = {row["claim"]: row for row in llm_backends.claims(runs, [1])}
    assert rows["21-28% more tokens/s (batch 1)"]["ratio"] == pytest.approx(540.0 / 600.0)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a result of benchmarks.llm_backends"),
        ('{"runs": {}}', "not a result of benchmarks.llm_backends .*KeyError"),
        ('{"args": [], "runs": {}}', "not a result of benchmarks.llm_backends .*its args and runs must be objects"),
        ('{"args": {}, "runs": {"tensorrt": {}}}', "run 'tensorrt' is no backend of eager, inductor"),
        ('{"args": {}, "runs": {"vllm[merged]": {}}}', "run 'vllm\\[merged\\]' is no backend"),
    ],
)
def test_an_earlier_part_that_is_not_a_result_is_refused_naming_the_file(tmp_path, content, message):
    earlier = tmp_path / "part1.json"
    earlier.write_text(content)
    with pytest.raises(SystemExit, match=f"part1.json: {message}"):
        llm_backends.earlier_results(llm_backends.parse_args(["--runs-from", str(earlier)]))
    missing = tmp_path / "missing.json"
    with pytest.raises(SystemExit, match="missing.json: not a result of benchmarks.llm_backends .*FileNotFound"):
        llm_backends.earlier_results(llm_backends.parse_args(["--runs-from", str(missing)]))


def saved_runs(tmp_path, devices):
    """A saved result whose runs were recorded on `devices` (run name: device name)."""
    path = tmp_path / "llm_backends.json"
    args = llm_backends.parse_args(["--backends", ""])
    arguments = {name: getattr(args, name) for name in llm_backends.COMPARED_ARGS}
    runs = {name: {"warm": {"device_name": device}} for name, device in devices.items()}
    path.write_text(json.dumps({"args": arguments, "runs": runs}))
    return path, runs


def test_the_tie_check_runs_again_when_asked_on_the_device_that_recorded_the_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(llm_backends, "device_here", lambda: "NVIDIA H100 80GB HBM3")
    path, runs = saved_runs(tmp_path, {"eager": "NVIDIA H100 80GB HBM3", "vllm": "NVIDIA H100 80GB HBM3"})
    assert not llm_backends.checks_ties(llm_backends.parse_args(["--backends", "", "--runs-from", str(path)]), runs)
    asked = llm_backends.parse_args(["--backends", "", "--runs-from", str(path), "--tie-check"])
    assert llm_backends.checks_ties(asked, runs)
    assert not llm_backends.checks_ties(asked, {"eager": runs["eager"]})  # no pair


def test_runs_from_another_device_are_not_tie_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(llm_backends, "device_here", lambda: "NVIDIA H200")
    path, runs = saved_runs(tmp_path, {"eager": "NVIDIA H100 80GB HBM3", "vllm": "NVIDIA H200"})
    asked = llm_backends.parse_args(["--backends", "", "--runs-from", str(path), "--tie-check"])
    with pytest.raises(SystemExit, match=f"{path}: --tie-check: .*eager on 'NVIDIA H100 80GB HBM3'; check them where"):
        llm_backends.checks_ties(asked, runs)
    measuring = llm_backends.parse_args(["--backends", "vllm", "--runs-from", str(path)])
    assert not llm_backends.checks_ties(measuring, runs)
    assert "no tie check: it rebuilds the seeded weights on this device ('NVIDIA H200')" in capsys.readouterr().out
