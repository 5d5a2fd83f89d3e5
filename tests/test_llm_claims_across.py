"""The users' claims over several machines' runs of benchmarks.llm_backends (recorded numbers, no GPU)."""

import json

import pytest

from benchmarks import llm_backends, llm_claims_across


def machine(tokens_per_s_vllm, cache="warm", batch_sizes=(1,), output_len=128):
    """One machine's llm_backends.json: cudagraph at 666 tokens/s, vLLM at `tokens_per_s_vllm`."""
    args = vars(llm_backends.parse_args(["--batch-sizes", ",".join(map(str, batch_sizes))]))
    args.update(output_len=output_len)
    ours = {"output_tokens_per_s": 666.0, "compile_s": 39.0, "engine_build_s": 11.4, "compile_cache": "warm"}
    theirs = dict(ours, output_tokens_per_s=tokens_per_s_vllm, compile_s=2.4, engine_build_s=20.0, compile_cache=cache)
    batches = lambda entry: {str(size): entry for size in batch_sizes}  # noqa: E731
    runs = {
        "cudagraph": {"cold": {"batches": batches(ours)}, "warm": {"batches": batches(ours)}},
        "vllm": {"cold": {"batches": batches(theirs)}, "warm": {"batches": batches(theirs)}},
    }
    return {"args": {k: v for k, v in args.items() if not k.startswith("child")}, "runs": runs}


def answered(tmp_path, **machines):
    paths = []
    for name, results in machines.items():
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(results))
    loaded = llm_claims_across.load_runs(paths)
    per_machine = [(name, llm_backends.claims(results["runs"], [1])) for name, results in loaded]
    return {row["claim"]: row for row in llm_claims_across.across_machines(per_machine)}


def test_a_claim_is_answered_with_its_range_where_every_machine_agrees(tmp_path):
    rows = answered(tmp_path, A=machine(523.0), B=machine(613.0))
    tokens = rows["21-28% more tokens/s (batch 1)"]
    assert (tokens["low"], tokens["high"]) == (pytest.approx(523 / 666), pytest.approx(613 / 666))
    assert tokens["verdict"] == "refuted on 2 of 2 machines"
    assert llm_claims_across.ratio_range(tokens["low"], tokens["high"]) == "0.785-0.92"


def test_machines_that_disagree_split_the_verdict_and_are_named(tmp_path):
    rows = answered(tmp_path, A=machine(700.0), B=machine(900.0))
    assert rows["21-28% more tokens/s (batch 1)"]["verdict"] == "split: refuted on A; confirmed on B"


def test_a_machine_that_could_not_compare_is_left_out_of_the_range_and_named(tmp_path):
    rows = answered(tmp_path, A=machine(523.0, cache="cold"), B=machine(613.0))
    start = rows["62% faster start from a compile cache"]
    assert start["ratios"]["A"] == pytest.approx(20.0 / 11.4), "the ratio is kept, not judged"
    assert start["verdict"] == (
        "refuted on 1 of 2 machines (not comparable: vllm's warm build missed its compile cache (cold) on A)"
    )


def test_runs_with_other_arguments_are_refused_naming_the_file_and_argument(tmp_path):
    with pytest.raises(SystemExit, match=r"B.json: --output-len was 16, A has 128; machines are compared like"):
        answered(tmp_path, A=machine(523.0), B=machine(613.0, output_len=16))


def test_a_file_that_is_not_a_result_is_named(tmp_path):
    broken = tmp_path / "half.json"
    broken.write_text('{"args": {')
    with pytest.raises(SystemExit, match=r"half.json: not a result of benchmarks.llm_backends"):
        llm_claims_across.load_runs([broken])


def test_the_table_prints_each_machines_ratio_and_the_range(tmp_path, capsys):
    for name, tokens in (("A", 523.0), ("B", 613.0)):
        (tmp_path / f"{name}.json").write_text(json.dumps(machine(tokens)))
    llm_claims_across.main([str(tmp_path / "A.json"), str(tmp_path / "B.json")])
    line = next(line for line in capsys.readouterr().out.splitlines() if "tokens/s (batch 1)" in line)
    assert "| 0.785 / 0.92 | 0.785-0.92 | refuted on 2 of 2 machines |" in line


def test_files_of_the_same_name_in_other_folders_are_named_by_their_paths(tmp_path):
    paths = []
    for folder, tokens_per_s in (("A", 520.0), ("B", 620.0)):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "llm_backends.json")
        paths[-1].write_text(json.dumps(machine(tokens_per_s)))
    loaded = llm_claims_across.load_runs(paths)
    assert [name for name, _ in loaded] == [str(path) for path in paths]
    per_machine = [(name, llm_backends.claims(results["runs"], [1])) for name, results in loaded]
    row = next(row for row in llm_claims_across.across_machines(per_machine) if "tokens/s" in row["claim"])
    assert len(row["ratios"]) == 2, "each machine keeps its own ratio"
