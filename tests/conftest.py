# pytester's in-process runs unload the modules a run imported. torch's C extension, and triton's,
# cannot be loaded twice in one process (the second load aborts it); measuring a call's host work
# starts torch's profiler, which imports dynamo and, through it, triton. A compile's first call
# imports modules that register with registries imported before it (the compile caches' with torch's
# cache registry, through Inductor's `compile_fx`; dynamo's debug backends, through `after_dynamo`), so
# importing them again after a run unloaded them fails ("already registered", "duplicate name"). So
# all are imported here, before any run.
import torch  # noqa: F401
import torch._dynamo  # noqa: F401
import torch._dynamo.repro.after_dynamo  # noqa: F401
import torch._inductor.compile_fx  # noqa: F401
import torch.profiler  # noqa: F401

pytest_plugins = ["pytester"]
