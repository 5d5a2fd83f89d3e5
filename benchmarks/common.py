"""What the benchmark scripts share: their common options, the machine a result was measured on, JSON
results, and a script run again as a process of its own."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from pytest_aotperf.compile_cache import point_caches_at

ROOT = Path(__file__).resolve().parent.parent


def script_parser(doc: str) -> argparse.ArgumentParser:
    """A script's parser, described by the first line of its docstring."""
    return argparse.ArgumentParser(description=doc.splitlines()[0])


def add_out_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="PATH", help="where to write the JSON results")


def add_out_folder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for the JSON (default $OUT or .)")


def comma_ints(text: str) -> List[int]:
    return [int(part) for part in text.split(",")]


def add_generation_options(parser: argparse.ArgumentParser, warmup: int, iterations: int) -> None:
    """The LLM and the generations measured: by default the shape of vLLM's own latency benchmark."""
    parser.add_argument("--model", default="llama-3.2-1b", help="shipped spec or config folder (default %(default)s)")
    parser.add_argument(
        "--batch-sizes", type=comma_ints, default="1,4,16", help="comma-separated (default %(default)s)"
    )
    parser.add_argument("--prompt-len", type=int, default=32, help="default %(default)s (vLLM's benchmark)")
    parser.add_argument("--output-len", type=int, default=128, help="default %(default)s (vLLM's benchmark)")
    parser.add_argument(
        "--warmup", type=int, default=warmup, help="warm-up generations per batch size (default %(default)s)"
    )
    parser.add_argument(
        "--iterations", type=int, default=iterations, help="timed generations per batch size (default %(default)s)"
    )
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.5, help="vLLM's (default %(default)s)")


LLM_BACKENDS = ("eager", "inductor", "cudagraph", "vllm")
VARIED = ("inductor", "cudagraph")
"""The backends --variants apply to: those that take --compile-options."""
VARIANT_LABEL = re.compile(r"[A-Za-z0-9_-]+")


def add_llm_options(parser: argparse.ArgumentParser, backends: str, children: Sequence[str]) -> None:
    """The backends compared (default `backends`), the dtype, the floor's bandwidth, compile options and their
    variants, and the hidden options of a child process (one of `children`)."""
    parser.add_argument("--backends", default=backends, help="comma-separated (default %(default)s)")
    parser.add_argument("--dtype", default=None, help="default: the config's on a GPU, float32 on CPU")
    parser.add_argument("--bandwidth-gbs", type=float, help="for the floor (default: the GPU's, H100 SXM or H200)")
    parser.add_argument(
        "--compile-options",
        type=json.loads,
        metavar="JSON",
        help="torch.compile's mode, Inductor options and merged projections on inductor and cudagraph, as aot_llm "
        'takes them: \'{"mode": "max-autotune-no-cudagraphs"}\', \'{"options": {"coordinate_descent_tuning": true}}\', '
        "'{\"merge_projections\": true}'",
    )
    parser.add_argument(
        "--variants",
        type=json.loads,
        default={},
        metavar="JSON",
        help="named --compile-options, each run as one more backend of inductor and cudagraph: "
        '\'{"merged": {"merge_projections": true}}\' adds cudagraph[merged] beside cudagraph',
    )
    parser.add_argument(
        "--vllm-kv-cache",
        choices=("utilization", "matched"),
        default="utilization",
        help="vLLM's KV cache on a GPU: its --gpu-memory-utilization share of the card (default), or matched: "
        "the tokens our static cache holds at the largest batch, and max_model_len the generation's length",
    )
    parser.add_argument("--child", choices=children, help=argparse.SUPPRESS)
    parser.add_argument("--child-backend", help=argparse.SUPPRESS)
    parser.add_argument("--child-variant", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)


def parse_llm_args(parser: argparse.ArgumentParser, argv: Optional[List[str]]) -> argparse.Namespace:
    """The arguments, --backends as a list; an unknown backend, or variants that cannot run, is a usage error
    naming it."""
    args = parser.parse_args(argv)
    args.backends = [name for name in args.backends.split(",") if name]
    unknown = sorted(set(args.backends) - set(LLM_BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(LLM_BACKENDS)}")
    problem = variants_problem(args.variants, args.backends)
    if problem:
        parser.error(f"--variants: {problem}")
    return args


def variants_problem(variants: Any, backends: Sequence[str]) -> Optional[str]:
    """Why --variants cannot be run with these backends; None when it can."""
    if not isinstance(variants, dict) or not all(isinstance(options, dict) for options in variants.values()):
        return 'give an object of named option objects, as \'{"merged": {"merge_projections": true}}\''
    bad = [label for label in variants if not VARIANT_LABEL.fullmatch(label)]
    if bad:
        return f"name {bad[0]!r} is not letters, digits, '_' and '-'"
    if variants and not set(backends) & set(VARIED):
        return f"they change only {' and '.join(VARIED)}; --backends has neither"
    return None


def variant_runs(backends: Sequence[str], variants: Mapping[str, Any]) -> List[Tuple[str, str, Optional[str]]]:
    """(run name, backend, variant) for each backend as it is, then each variant of it where it takes them."""
    runs: List[Tuple[str, str, Optional[str]]] = []
    for backend in backends:
        runs.append((backend, backend, None))
        if backend in VARIED:
            runs += [(f"{backend}[{label}]", backend, label) for label in variants]
    return runs


def backend_of(run_name: str) -> str:
    """The backend a run of `variant_runs` ran on: `cudagraph` for `cudagraph[merged]`."""
    return run_name.split("[", 1)[0]


def is_run_name(name: str) -> bool:
    """Whether `name` is one `variant_runs` gives: a backend, or a varied backend with a variant's label."""
    if name in LLM_BACKENDS:
        return True
    backend, _, rest = name.partition("[")
    return backend in VARIED and rest.endswith("]") and VARIANT_LABEL.fullmatch(rest[:-1]) is not None


def cuda_environment() -> Dict[str, Any]:
    """The GPU, and the torch and CUDA builds, a result was measured with."""
    import torch

    return {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda}


def write_json(path: Union[str, Path], document: Any, indent: int = 1) -> Path:
    """`document` as strict JSON at `path` (its folder made); a value JSON has no type for is written as its str,
    a NaN or infinity is refused (ValueError)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=indent, default=str, allow_nan=False) + "\n")
    return path


def module_command(module: str, *arguments: str) -> List[str]:
    """The command that runs `module` (`benchmarks.NAME`) in a new Python process of this interpreter."""
    return [sys.executable, "-m", module, *arguments]


def child_environment() -> Dict[str, str]:
    """This process's environment with the repository first on the import path (the entries there kept),
    so that a child finds `benchmarks` and the package whatever its working folder."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run_in_child(
    module: str, out: Path, child_arguments: Sequence[str], caches: Optional[Path] = None, **environ: str
) -> Any:
    """This script (`module`) again in a process of its own, with this run's arguments, `child_arguments` and
    `--child-out out`, its compile caches under `caches` and `environ` set: the JSON it wrote to `out`."""
    env = {**child_environment(), **environ}
    if caches is not None:
        point_caches_at(caches, env)
    command = module_command(module, *sys.argv[1:], *child_arguments, "--child-out", str(out))
    subprocess.run(command, env=env, check=True)
    return json.loads(out.read_text())
