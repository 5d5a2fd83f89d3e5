"""The users' claims, answered from a run of benchmarks.llm_backends (recorded numbers, no GPU)."""

import json

import pytest

from benchmarks import llm_backends
from pytest_aotperf.environment import boot_id


def run(
    latency_s=None,
    output_tokens_per_s=None,
    engine_build_s=None,
    compile_s=None,
    capture_s=None,
    graphs=None,
    cache=None,
):
    batch = dict(latency_s=latency_s, output_tokens_per_s=output_tokens_per_s, engine_build_s=engine_build_s)
    batch.update(compile_s=compile_s, cudagraph_capture_s=capture_s, cudagraph_memory=graphs, compile_cache=cache)
    return {"batches": {"1": batch}}


NO_CAPTURE = "unavailable: vLLM logged no 'Graph capturing finished' line"
RUNS = {
    "inductor": {"warm": run(1.46, 88.0)},
    "cudagraph": {"cold": run(compile_s=30.0), "warm": run(0.197, 648.7, 14.6, 9.5, 0.045, 36.0)},
    "vllm": {"cold": run(compile_s=14.9), "warm": run(0.257, 498.0, 40.0, 3.0, 4.0, NO_CAPTURE)},
}


def test_each_claim_gets_its_ratio_and_verdict():
    rows = {row["claim"]: row for row in llm_backends.claims(RUNS, [1])}
    assert rows["38% faster first compile"]["ratio"] == pytest.approx(14.9 / 30.0)
    assert rows["38% faster first compile"]["verdict"] == "confirmed"
    assert rows["62% faster start from a compile cache"]["verdict"] == "refuted"
    assert rows["58% shorter warm-up"]["ratio"] == pytest.approx(7.0 / 9.545)
    assert rows["21-28% more tokens/s (batch 1)"]["ratio"] == pytest.approx(498.0 / 648.7)
    assert rows["21-28% more tokens/s (batch 1)"]["verdict"] == "refuted"
    assert rows["15-25% lower latency from CUDA graphs (batch 1)"]["verdict"] == "confirmed"


def test_a_claim_without_both_numbers_is_not_comparable():
    rows = {row["claim"]: row for row in llm_backends.claims(RUNS, [1, 16])}
    graphs = rows["17% less memory (CUDA graphs)"]  # vLLM logged no capture here
    assert graphs["ratio"] is None and graphs["verdict"] == "not comparable"
    assert rows["17% less memory"]["verdict"].startswith("not comparable")
    assert rows["21-28% more tokens/s (batch 16)"]["verdict"] == "not comparable"


def test_total_memory_is_compared_only_with_vllms_kv_cache_matched_to_ours():
    ours = dict(RUNS["cudagraph"]["warm"], serving_gpu_memory=3.0e9)
    by_share = dict(RUNS["vllm"]["warm"], options={"gpu_memory_utilization": 0.5}, serving_gpu_memory=40.9e9)
    row = llm_backends.total_memory_row({"cudagraph": {"warm": ours}, "vllm": {"warm": by_share}})
    assert row["verdict"] == "not comparable: vLLM's KV cache took its gpu_memory_utilization share of the card"
    matched = dict(by_share, options={"kv_cache_memory_bytes": 101187584}, serving_gpu_memory=3.9e9)
    row = llm_backends.total_memory_row({"cudagraph": {"warm": ours}, "vllm": {"warm": matched}})
    assert row["ratio"] == pytest.approx(1.3) and row["verdict"] == "refuted"
    unread = dict(matched, serving_gpu_memory="unavailable: no NVML")
    row = llm_backends.total_memory_row({"cudagraph": {"warm": ours}, "vllm": {"warm": unread}})
    assert row["ratio"] is None and row["verdict"] == "not comparable"


def test_a_matched_kv_cache_holds_our_static_cache_at_the_largest_batch_in_whole_blocks():
    args = llm_backends.parse_args(["--batch-sizes", "1,4,16", "--vllm-kv-cache", "matched"])
    options = llm_backends.llm_options(args, "vllm", "cuda")
    per_token = 2 * 16 * 8 * 64 * 2  # llama-3.2-1b: 16 layers, 8 KV heads of 64, keys and values, bf16
    assert options["kv_cache_memory_bytes"] == (16 * 192 + 16) * per_token  # 32 + 128 tokens: a cache of 192
    assert options["max_model_len"] == 160 and "gpu_memory_utilization" not in options
    default = llm_backends.llm_options(llm_backends.parse_args([]), "vllm", "cuda")
    assert default["gpu_memory_utilization"] == 0.5 and "kv_cache_memory_bytes" not in default
    assert "kv_cache_memory_bytes" not in llm_backends.llm_options(args, "vllm", "cpu")


def test_a_warm_start_claim_is_not_judged_when_a_warm_build_missed_its_cache():
    runs = dict(RUNS, vllm={"warm": run(0.257, 498.0, 37.9, 11.0, 4.0, 461.0, cache="cold")})
    rows = {row["claim"]: row for row in llm_backends.claims(runs, [1])}
    start = rows["62% faster start from a compile cache"]
    assert start["ratio"] == pytest.approx(37.9 / 14.6)
    assert start["verdict"] == "not comparable: vllm's warm build missed its compile cache (cold)"
    assert rows["21-28% more tokens/s (batch 1)"]["verdict"] == "refuted", "throughput does not depend on the cache"


def test_a_ratio_of_two_machines_runs_is_not_judged_and_older_runs_are_not_told_apart():
    def booted(boot, build):
        return dict(build, boot_id=boot)

    runs = {name: {build: booted("A", kept) for build, kept in run.items()} for name, run in RUNS.items()}
    runs["inductor"] = {"warm": booted("B", RUNS["inductor"]["warm"])}  # joined with --runs-from on machine B
    rows = {row["claim"]: row for row in llm_backends.claims(runs, [1])}
    graphs = rows["15-25% lower latency from CUDA graphs (batch 1)"]
    assert graphs["ratio"] == pytest.approx(0.197 / 1.46)
    assert graphs["verdict"] == "not comparable: cudagraph and inductor ran on two machines"
    assert rows["21-28% more tokens/s (batch 1)"]["verdict"] == "refuted", "vllm and cudagraph ran on one"
    runs["vllm"] = {"warm": dict(RUNS["vllm"]["warm"], options={"kv_cache_memory_bytes": 1}, boot_id="B")}
    runs["cudagraph"]["warm"]["serving_gpu_memory"] = runs["vllm"]["warm"]["serving_gpu_memory"] = 3.0e9
    memory = llm_backends.total_memory_row(runs)
    assert memory["verdict"] == "not comparable: vllm and cudagraph ran on two machines"
    runs["cudagraph"]["warm"].pop("boot_id")
    assert llm_backends.total_memory_row(runs)["verdict"] == "refuted", "a run without a boot id is not told apart"


def test_the_boot_id_is_read_from_the_kernel_or_is_none(tmp_path):
    boot = tmp_path / "boot_id"
    boot.write_text("ae1eedf6-511b-4053-9f92-0069ad9ddc5c\n")
    assert boot_id(boot) == "ae1eedf6-511b-4053-9f92-0069ad9ddc5c"
    assert boot_id(tmp_path / "absent") is None


def test_runs_kept_from_an_earlier_part_must_share_the_compared_arguments(tmp_path):
    earlier = tmp_path / "llm_backends.json"
    args = llm_backends.parse_args(["--backends", "eager,inductor"])
    arguments = {name: getattr(args, name) for name in llm_backends.COMPARED_ARGS}
    earlier.write_text(json.dumps({"args": arguments, "runs": {"eager": {"warm": {}}, "inductor": {"warm": {}}}}))
    kept = llm_backends.earlier_results(
        llm_backends.parse_args(["--backends", "inductor", "--runs-from", str(earlier)])
    )
    assert list(kept["runs"]) == ["eager"], "the backends this run measures again are not kept"
    with pytest.raises(SystemExit, match=r"llm_backends.json: --output-len was 128, this run has 16"):
        llm_backends.earlier_results(llm_backends.parse_args(["--output-len", "16", "--runs-from", str(earlier)]))


def test_tokens_are_compared_for_every_pair_of_the_backends_that_ran():
    assert llm_backends.backend_pairs(RUNS) == [("inductor", "cudagraph"), ("inductor", "vllm"), ("cudagraph", "vllm")]
    assert llm_backends.backend_pairs({"vllm": {}}) == []


def test_the_floor_uses_the_gpus_bandwidth_where_it_is_known():
    assert llm_backends.peak_bandwidth_gbs("NVIDIA H200") == 4800.0
    assert llm_backends.peak_bandwidth_gbs("NVIDIA H100 80GB HBM3") == 3350.0
    for other in ("NVIDIA H100 PCIe", "NVIDIA GH200 480GB", "AMD EPYC 7B13", None):
        assert llm_backends.peak_bandwidth_gbs(other) is None


def test_compile_options_go_to_the_backends_that_compile_with_torch_compile():
    args = llm_backends.parse_args(["--compile-options", '{"mode": "max-autotune-no-cudagraphs"}'])
    assert llm_backends.llm_options(args, "cudagraph", "cuda")["mode"] == "max-autotune-no-cudagraphs"
    assert llm_backends.llm_options(args, "inductor", "cuda")["mode"] == "max-autotune-no-cudagraphs"
    assert "mode" not in llm_backends.llm_options(args, "vllm", "cuda")
    assert "mode" not in llm_backends.llm_options(args, "eager", "cuda")


def test_serving_memory_by_process_names_the_measuring_process_and_the_engines(monkeypatch):
    """Whether the process that drives vLLM holds a CUDA context of its own shows in its own line."""
    import os

    from pytest_aotperf.measure import memory

    engine = os.getppid()
    monkeypatch.setattr(memory, "nvml_tree_processes", lambda: ({os.getpid(): 512 * 2**20, engine: 3 * 2**30}, None))

    by_process = llm_backends.serving_gpu_memory_by_process()

    assert by_process["this"] == 512 * 2**20
    assert by_process[f"{open(f'/proc/{engine}/comm').read().strip()} {engine}"] == 3 * 2**30


def test_serving_memory_by_process_is_empty_where_nvml_cannot_be_read(monkeypatch):
    from pytest_aotperf.measure import memory

    monkeypatch.setattr(memory, "nvml_tree_processes", lambda: (None, "no NVML"))

    assert llm_backends.serving_gpu_memory_by_process() == {}
