"""Engine options per vLLM release, model specs and vLLM's log lines: pure, no engine."""

import pytest

from pytest_aotperf.llm.specs import SHIPPED_MODELS, ModelSpecError, resolve_model
from pytest_aotperf.llm.vllm import buildlog
from pytest_aotperf.llm.vllm.options import (
    CPU_KV_CACHE_BYTES,
    PROBE_EXTENSION,
    OptionError,
    VllmRelease,
    compilation_options,
    engine_options,
)

COMPILATION_FIELDS_0_26 = frozenset(
    """mode debug_dump_path cache_dir compile_cache_save_format backend custom_ops
ir_enable_torch_wrap splitting_ops compile_mm_encoder cudagraph_mm_encoder encoder_cudagraph_token_budgets
encoder_cudagraph_max_vision_items_per_batch encoder_cudagraph_max_frames_per_batch compile_sizes
compile_ranges_endpoints inductor_compile_config inductor_passes cudagraph_mode cudagraph_num_of_warmups
cudagraph_capture_sizes cudagraph_copy_inputs cudagraph_specialize_lora use_inductor_graph_partition pass_config
max_cudagraph_capture_size dynamic_shapes_config fast_moe_cold_start""".split()
)
"""CompilationConfig's init fields in vLLM 0.26.0 (vllm/config/compilation.py)."""
COMPILATION_FIELDS_0_32 = COMPILATION_FIELDS_0_26 | {
    "cudagraph_decoder_replay",
    "decoder_replay_cudagraph_capture_sizes",
    "decoder_replay_trim_threshold",
}
ENGINE_OPTIONS = frozenset(
    {
        "model",
        "load_format",
        "skip_tokenizer_init",
        "enable_prefix_caching",
        "disable_log_stats",
        "seed",
        "worker_extension_cls",
        "kv_cache_memory_bytes",
        "compilation_config",
        "enforce_eager",
        "gpu_memory_utilization",
        "max_model_len",
        "max_num_seqs",
        "dtype",
    }
)
RELEASE_0_26 = VllmRelease("0.26.0", ENGINE_OPTIONS | {"max_num_partial_prefills"}, COMPILATION_FIELDS_0_26)
RELEASE_0_32 = VllmRelease("0.32.0", ENGINE_OPTIONS | {"max_num_queued_reqs"}, COMPILATION_FIELDS_0_32)
RELEASES = pytest.mark.parametrize("release", [RELEASE_0_26, RELEASE_0_32], ids=["0.26", "0.32"])


@RELEASES
@pytest.mark.parametrize(
    "old, new",
    [
        ({"level": 3}, {"mode": 3}),
        ({"level": "PIECEWISE"}, {"mode": "VLLM_COMPILE"}),
        ({"level": "NO_COMPILATION"}, {"mode": "NONE"}),
        ({"use_inductor": False}, {"backend": "eager"}),
        ({"use_cudagraph": True}, {"cudagraph_mode": "PIECEWISE"}),
        ({"use_cudagraph": False}, {"cudagraph_mode": "NONE"}),
        ({"use_cudagraph": True, "full_cuda_graph": True}, {"cudagraph_mode": "FULL"}),
    ],
)
def test_old_compilation_names_map_to_the_release_names(release, old, new):
    mapped, renamed = compilation_options({**old, "cudagraph_capture_sizes": [1, 2]}, release)
    assert mapped == {**new, "cudagraph_capture_sizes": [1, 2]}
    assert {pair[1] for pair in renamed} == set(new)


@RELEASES
def test_current_compilation_names_pass_through(release):
    config = {
        "mode": "VLLM_COMPILE",
        "cudagraph_mode": "FULL_AND_PIECEWISE",
        "compile_sizes": [1, 4],
        "cudagraph_capture_sizes": [1, 4, 16],
        "cache_dir": "/tmp/c",
    }
    assert compilation_options(config, release) == (config, ())


@RELEASES
def test_an_old_name_and_its_new_name_together_are_refused(release):
    with pytest.raises(OptionError, match="'level' maps to 'mode'.*give only 'mode'"):
        compilation_options({"level": 3, "mode": 3}, release)


def test_a_field_the_release_lacks_names_the_field_and_the_release():
    config = {"decoder_replay_trim_threshold": 512}
    assert compilation_options(config, RELEASE_0_32)[0] == config
    with pytest.raises(
        OptionError, match=r"vLLM 0\.26\.0 has no compilation_config option 'decoder_replay_trim_threshold'"
    ):
        compilation_options(config, RELEASE_0_26)


def test_an_engine_option_the_release_lacks_names_the_option_and_the_release():
    assert (
        "max_num_partial_prefills"
        in engine_options({"max_num_partial_prefills": 2}, RELEASE_0_26, model_path="/m", device="cuda").kwargs
    )
    with pytest.raises(OptionError, match=r"vLLM 0\.32\.0 has no engine option 'max_num_partial_prefills'"):
        engine_options({"max_num_partial_prefills": 2}, RELEASE_0_32, model_path="/m", device="cuda")


def test_engine_defaults_suit_dummy_weight_runs_and_the_test_options_win():
    kwargs = engine_options(
        {"seed": 7, "compilation_config": {"level": 0}}, RELEASE_0_32, model_path="/m", device="cpu"
    ).kwargs
    assert kwargs["load_format"] == "dummy" and kwargs["skip_tokenizer_init"] is True
    assert kwargs["enable_prefix_caching"] is False and kwargs["disable_log_stats"] is False
    assert kwargs["worker_extension_cls"] == PROBE_EXTENSION
    assert kwargs["kv_cache_memory_bytes"] == CPU_KV_CACHE_BYTES
    assert kwargs["seed"] == 7 and kwargs["compilation_config"] == {"mode": 0}


def test_gpu_runs_keep_vllms_own_memory_sizing():
    assert "kv_cache_memory_bytes" not in engine_options({}, RELEASE_0_26, model_path="/m", device="cuda").kwargs


def test_the_worker_extension_is_reserved():
    with pytest.raises(OptionError, match="worker_extension_cls is taken"):
        engine_options({"worker_extension_cls": "x.Y"}, RELEASE_0_32, model_path="/m", device="cpu")


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_shipped_models_resolve_to_configs_vllms_benchmark_can_prompt(name):
    spec = resolve_model(name)
    assert spec.vocab_size >= 10000 and spec.path.endswith(name)


def test_a_folder_with_a_config_is_a_model(tmp_path):
    (tmp_path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "vocab_size": 32000}')
    assert resolve_model(str(tmp_path)).vocab_size == 32000
    with pytest.raises(ModelSpecError, match="no config.json"):
        resolve_model(str(tmp_path / "absent"))


@pytest.mark.parametrize(
    "line",
    [
        # vLLM 0.26.0 on an H100 and 0.32 (one format string, in gpu_model_runner.capture_model)
        "(EngineCore pid=1) INFO 11-23 18:07:39 [gpu_model_runner.py:6845] "
        "Graph capturing finished in 1 secs, took 0.11 GiB",
        "(EngineCore_DP0 pid=9) INFO [gpu_model_runner.py:6582] Graph capturing finished in 1 secs, took 0.11 GiB",
    ],
)
def test_graph_capture_is_read_from_vllms_log(line):
    capture = buildlog.graph_capture(["unrelated", line])
    assert capture == buildlog.GraphCapture(seconds=1.0, memory_bytes=0.11 * (1 << 30))
    assert buildlog.graph_capture(["init engine took 3 s"]) is None


def test_the_compile_cache_lines_say_whether_the_cache_served_the_build():
    lines = [
        # vLLM 0.26.0 (GPU, worker process) and 0.32 (CPU): one format string each, in compilation/
        "(Worker_TP0 pid=79) INFO 07-05 08:55:20 [backends.py:292] Directly load the compiled graph(s) for "
        "compile range (1, 8192) from the cache, took 0.202 s",
        "(Worker_TP0 pid=79) INFO 07-05 08:55:20 [decorators.py:311] Directly load AOT compilation from path "
        "/root/.cache/vllm/torch_compile_cache/torch_aot_compile/348fd1f5/rank_0_0/model",
        "(EngineCore pid=9) INFO [monitor.py:53] torch.compile took 2.18 s in total",
        "(EngineCore pid=9) WARNING [decorators.py:334] Compiling model again due to a load failure from "
        "/tmp/v/torch_compile_cache/torch_aot_compile/a0f51fd4/rank_0_0/model, reason: 'function' object",
        "INFO [decorators.py:744] saved AOT compiled function to /tmp/v/torch_compile_cache/torch_aot_compile/a0/m",
    ]
    assert buildlog.compile_cache_log(lines) == (
        "Directly load the compiled graph(s) for compile range (1, 8192) from the cache, took 0.202 s",
        "Directly load AOT compilation from path .../torch_compile_cache/torch_aot_compile/348fd1f5/rank_0_0/model",
        "Compiling model again due to a load failure from .../torch_compile_cache/torch_aot_compile/a0f51fd4/"
        "rank_0_0/model, reason: 'function' object",
        "saved AOT compiled function to .../torch_compile_cache/torch_aot_compile/a0/m",
    )
    assert buildlog.compile_cache_log(["torch.compile took 9 s in total"]) == ()


def test_the_failure_cause_is_the_last_exception_line():
    lines = [
        "(EngineCore pid=5) Traceback (most recent call last):",
        "  File x, line 1",
        "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`",
    ]
    assert buildlog.failure_cause(lines).startswith("ValueError: No available memory for the cache blocks")
    assert buildlog.failure_cause(["all fine"]) is None


def test_the_installed_release_is_read_from_vllms_own_classes():
    vllm = pytest.importorskip("vllm")
    from pytest_aotperf.llm.vllm.options import installed_release

    release = installed_release()
    assert release.version == vllm.__version__
    assert {
        "load_format",
        "kv_cache_memory_bytes",
        "compilation_config",
        "worker_extension_cls",
    } <= release.engine_options
    if release.version.startswith("0.32."):
        assert release.compilation_fields == COMPILATION_FIELDS_0_32
