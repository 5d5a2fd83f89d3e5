# pytester's in-process runs unload the modules a run imported; torch's C extension cannot be
# loaded twice in one process, so it is imported here, before any run.
import torch  # noqa: F401

pytest_plugins = ["pytester"]
