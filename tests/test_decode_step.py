"""Where a decode step's time goes: benchmarks.decode_step's arithmetic on recorded kernel spans (no GPU)."""

import pytest

from benchmarks import decode_step
from benchmarks.decode_step import Span, step_breakdown, timeline


def steps(count, start_us=0.0, gap_us=2.0):
    """`count` decode steps of a GEMV (10 µs), an attention kernel (4 µs) and a fused norm (1 µs), `gap_us`
    apart on the device, after a prefill of one 50 µs kernel."""
    spans, now = [Span("prefill_gemm", start_us, start_us + 50.0)], start_us + 50.0
    for _ in range(count):
        for name, us in (("sm90_xmma_gemv_bf16", 10.0), ("flash_fwd_splitkv_kernel", 4.0), ("triton_per_rsqrt", 1.0)):
            now += gap_us
            spans.append(Span(name, now, now + us))
            now += us
    return spans


def test_a_timeline_counts_overlapping_kernels_once_in_its_busy_time():
    line = timeline([Span("a", 0.0, 10.0), Span("b", 5.0, 12.0), Span("a", 20.0, 21.0)])
    assert (line.window_us, line.busy_us, line.kernel_us, line.kernels) == (21.0, 13.0, 18.0, 3)
    assert line.by_name == {"a": 11.0, "b": 7.0}
    assert timeline([]).kernels == 0


def test_what_the_long_generation_adds_per_step_is_one_decode_step():
    step = step_breakdown(timeline(steps(10)), timeline(steps(40, start_us=1000.0)), 30)
    assert step.device_s == pytest.approx(21e-6)
    assert step.kernel_s == pytest.approx(15e-6)
    assert step.gaps_s == pytest.approx(6e-6)
    assert step.kernels == 3
    assert [name for name, _, _ in step.by_kernel] == [
        "sm90_xmma_gemv_bf16",
        "flash_fwd_splitkv_kernel",
        "triton_per_rsqrt",
    ]
    assert step.by_kernel[0][1:] == pytest.approx((10e-6, 10 / 15))
    assert [kind for kind, _, _ in step.kinds] == ["matmul", "attention", "norm"], "the prefill cancels"
    with pytest.raises(ValueError, match="must add steps"):
        step_breakdown(timeline(steps(1)), timeline(steps(1)), 0)


@pytest.mark.parametrize(
    "name, kind",
    [
        ("void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8>", "matmul"),
        ("nvjet_tst_64x8_64x16_4x1_v_bz_splitK_TNT", "matmul"),
        ("triton_tem_fused_mm_0", "matmul"),
        ("void flash::flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits>", "attention"),
        ("void vllm::reshape_and_cache_flash_kernel<__nv_bfloat16>", "attention"),
        ("void vllm::fused_add_rms_norm_kernel<c10::BFloat16, 8>", "norm"),
        ("triton_per_fused__to_copy_add_mean_mul_pow_rsqrt_0", "norm"),
        ("triton_poi_fused_cat_clone_1", "fused elementwise (Triton)"),
        ("Memcpy DtoD (Device -> Device)", "copy, fill"),
        ("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<long>>", "other"),
    ],
)
def test_kernels_of_both_backends_are_sorted_into_kinds(name, kind):
    assert decode_step.kind_of(name) == kind


def test_the_median_repeat_gives_the_whole_breakdown():
    repeats = [step_breakdown(timeline(steps(1)), timeline(steps(2, gap_us=gap)), 1) for gap in (5.0, 1.0, 3.0)]
    assert decode_step.median_breakdown(repeats) is repeats[2]


def test_the_short_output_shares_the_long_ones_static_cache():
    assert decode_step.shortest_same_cache(32, 128) == 98  # both write positions up to a 192-long cache
    args = decode_step.parse_args(["--output-len", "128"])
    assert (args.short_output_len, args.batch_sizes, args.backends) == (98, [1], ["cudagraph", "vllm"])
    for refused in (["--output-len", "16", "--short-output-len", "16"], ["--backends", ""], ["--iterations", "0"]):
        with pytest.raises(SystemExit):
            decode_step.parse_args(refused)


def test_the_profilers_kernels_copies_and_fills_are_the_spans():
    from types import SimpleNamespace

    def event(name, activity, start):
        return SimpleNamespace(
            name=name, activity_type=activity, time_range=SimpleNamespace(start=start, end=start + 1)
        )

    profiler = SimpleNamespace(
        events=lambda: [
            event("gemv", "kernel", 0),
            event("Memcpy DtoD", "gpu_memcpy", 2),
            event("aten::mm", "cpu_op", 0),
        ]
    )
    assert decode_step.device_spans(profiler) == [Span("gemv", 0, 1), Span("Memcpy DtoD", 2, 3)]


def test_the_report_reads_a_childs_json(capsys):
    import json
    from dataclasses import asdict

    step = step_breakdown(timeline(steps(10)), timeline(steps(40, start_us=1000.0)), 30)
    entry = {**asdict(step), "wall_s": 30e-6, "steps": 30}
    runs = json.loads(
        json.dumps(
            {
                "cudagraph": {"batches": {1: entry}},
                "vllm": {"batches": {1: {"wall_s": 1e-3, "steps": 30, "unavailable": "no CUDA device"}}},
            }
        )
    )
    decode_step.report(runs, {1: {"step_s": 10.5e-6}})
    out = capsys.readouterr().out
    assert "device 0.021 ms: kernels and copies 0.015 ms (3), gaps 0.006 ms; the floor 0.010 ms is 50.0% of it" in out
    assert "| sm90_xmma_gemv_bf16 | 10.0 | 66.7% |" in out and "| matmul | 10.0 | 66.7% |" in out
    assert "vllm, batch 1 (30 steps profiled): wall 1.000 ms per step\n  kernels: unavailable: no CUDA device" in out
