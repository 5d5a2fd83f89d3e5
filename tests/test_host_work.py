"""Host work per call, counted exactly: operators, CUDA runtime calls and Python calls."""

import gc
import sys
import weakref
from types import SimpleNamespace

import pytest
import torch

from pytest_aotperf.measure.host_work import (
    CALL_RANGE,
    HostWork,
    count_host_work,
    count_python_calls,
    host_operations,
    is_runtime_call,
)

CPU, CUDA = SimpleNamespace(name="CPU"), SimpleNamespace(name="CUDA")


def event(name, start, end=None, activity=None, device=CPU):
    fields = {"name": name, "time_range": SimpleNamespace(start=start, end=start if end is None else end)}
    fields["device_type"] = device
    if activity is not None:
        fields["activity_type"] = activity
    return SimpleNamespace(**fields)


def test_operators_and_runtime_calls_are_counted_inside_the_call_range_only():
    events = [
        event("aten::empty", 1),  # before the call: the probe's own
        event(CALL_RANGE, 10, 20, activity="user_annotation"),
        event("aten::linear", 11, activity="cpu_op"),
        event("aten::addmm", 12, activity="cpu_op"),
        event("cudaLaunchKernel", 13, activity="cuda_runtime"),
        event("cuLaunchKernel", 14, activity="cuda_driver"),
        event("sm90_gemm", 15, activity="kernel", device=CUDA),
        event(CALL_RANGE, 16, 22, activity="gpu_user_annotation", device=CUDA),  # the range on the GPU's timeline
        event("cudaDeviceSynchronize", 25, activity="cuda_runtime"),  # the probe's synchronisation, after
    ]
    assert host_operations(events, on_cuda=True) == (2, 2)
    assert host_operations(events, on_cuda=False) == (2, None)


def test_runtime_calls_of_torch_before_2_12_are_told_by_name_and_device():
    assert is_runtime_call(event("cudaMemcpyAsync", 0))
    assert is_runtime_call(event("cuLaunchKernel", 0))
    assert not is_runtime_call(event("cutlass_80_gemm", 0, device=CUDA))
    assert not is_runtime_call(event("cuda_kernel_like_name", 0, device=CUDA))
    assert not is_runtime_call(event("aten::copy_", 0))


def test_a_profile_without_exactly_one_call_range_is_an_error():
    with pytest.raises(ValueError, match="expected one"):
        host_operations([event("aten::add", 0)], on_cuda=False)


def test_python_calls_are_counted_exactly_and_the_previous_profile_function_restored():
    def leaf():
        return 1

    def work():
        return sum(leaf() for _ in range(5))

    sentinel = []

    def outer_profile(frame, event, arg):
        sentinel.append(event)

    sys.setprofile(outer_profile)
    try:
        counts = [count_python_calls(work) for _ in range(3)]
        restored = sys.getprofile()
    finally:
        sys.setprofile(None)
    # work, the generator (started and resumed 6 times), leaf five times
    assert counts == [12, 12, 12]
    assert restored is outer_profile


def tower(layers=6):
    return torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.GELU()) for _ in range(layers)])


def test_host_work_of_a_module_is_the_same_every_call_and_a_forward_hook_adds_python_calls():
    model, x = tower().eval(), torch.randn(2, 16)
    with torch.no_grad():
        model(x)
        first, second = (count_host_work(lambda: model(x), on_cuda=False) for _ in range(2))
        handles = [module.register_forward_hook(lambda *args: None) for module in model.modules()]
        hooked = count_host_work(lambda: model(x), on_cuda=False)
    for handle in handles:
        handle.remove()
    assert first == second
    assert first.runtime_calls is None and first.aten_ops >= 12
    assert hooked.aten_ops == first.aten_ops
    assert hooked.python_calls > first.python_calls


def test_one_more_operator_per_call_is_counted():
    model, x = tower().eval(), torch.randn(2, 16)
    with torch.no_grad():
        model(x)
        plain = count_host_work(lambda: model(x), on_cuda=False)
        extra = count_host_work(lambda: model(x).clone(), on_cuda=False)
    assert extra.aten_ops > plain.aten_ops
    assert isinstance(plain, HostWork)


def test_a_compile_counts_its_graphs_captured_calls_and_generated_kernels():
    from pytest_aotperf.backends.inductor import compile_for_batch_sizes

    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.GELU(), torch.nn.Linear(8, 4))
    compiled = torch.compile(model)
    stats = {m.name: m.value for m in compile_for_batch_sizes(compiled, (torch.randn(2, 8),), [2], "cpu")}
    assert (stats["graphs"], stats["graph_breaks"]) == (1, 0)
    assert stats["fx_calls"] == 3  # linear, gelu, linear
    assert stats["inductor_kernels"] >= 1


def test_a_compile_is_timed_once_inductors_compile_workers_are_up():
    """Until they are, Inductor compiles kernels in the calling process, so memory and time would depend on how
    fast the workers started."""
    from torch._inductor.async_compile import AsyncCompile, get_compile_threads

    from pytest_aotperf.backends.inductor import compile_for_batch_sizes

    compile_for_batch_sizes(torch.compile(torch.nn.Linear(4, 4)), (torch.randn(2, 4),), [2], "cpu")
    assert AsyncCompile.use_process_pool() == (get_compile_threads() > 1)


def test_a_compile_runs_with_garbage_collection_paused_and_collects_its_garbage_after():
    """Left to gc's allocation counters, a collection fell inside a compile or after it depending on unrelated
    code, and moved the test's memory peak with it."""
    from pytest_aotperf.backends.inductor import compile_for_batch_sizes

    class Cycle:
        pass

    seen = []

    def compiled(*inputs):
        cycle = Cycle()
        cycle.itself = cycle
        seen.append((gc.isenabled(), weakref.ref(cycle)))

    compile_for_batch_sizes(compiled, (torch.randn(2, 4),), [2], "cpu")
    [(enabled_inside, garbage)] = seen
    assert not enabled_inside and garbage() is None and gc.isenabled()


def test_garbage_collection_paused_by_someone_else_stays_paused():
    from pytest_aotperf.measure.dynamo import garbage_collected_after

    gc.disable()
    try:
        with garbage_collected_after():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_module_compiled_after_dynamo_recompile_limit_modules_is_still_compiled():
    """Modules torch.compile wraps share a code object; past `recompile_limit` graphs on it, dynamo would run
    the next one uncompiled (the example suite's MLPs on inductor, after the LLM test and the other models)."""
    from pytest_aotperf.backends.inductor import compile_for_batch_sizes

    torch._dynamo.reset()
    inputs = (torch.randn(2, 4),)
    with torch._dynamo.config.patch(recompile_limit=1):
        graphs = [
            {m.name: m.value for m in compile_for_batch_sizes(torch.compile(model), inputs, [2], "cpu")}["graphs"]
            for model in (torch.nn.Linear(4, 4), torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()))
        ]
    assert graphs == [1, 1]
