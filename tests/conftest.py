# pytester's in-process runs unload the modules a run imported. torch's C extension, and triton's,
# cannot be loaded twice in one process (the second load aborts it); measuring a call's host work
# starts torch's profiler, which imports dynamo and, through it, triton. So all are imported here,
# before any run.
import torch  # noqa: F401
import torch._dynamo  # noqa: F401
import torch.profiler  # noqa: F401

pytest_plugins = ["pytester"]
