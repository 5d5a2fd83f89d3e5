"""Does a test's memory read the same alone as in the whole multi-backend suite? (It should: memory is per test.)

Runs the example suite over every backend in one process (`--aot-backend` order: the later
backends run after the earlier ones left their models, caches and engines behind), then each test
alone in a process of its own (an LLM test alone builds the engine it was handed in the suite), and
compares each memory metric of each test, the engine build's (`build_*`) included, with the memory
tolerance (5% plus MEMORY_SLACK_BYTES). Prints a table; exits 1 when a test's memory differs.

    python -m benchmarks.memory_order_check --backends vllm,inductor,eager --out memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import add_out_file, script_parser, write_json
from pytest_aotperf.llm.engine_cache import BUILD_PREFIX
from pytest_aotperf.memory_monitor import MEMORY_METRICS
from pytest_aotperf.verdict import MEMORY_SLACK_BYTES

TOLERANCE = 0.05


SUITE = "example_tests"
FILES = {"test_model": "example_tests/test_models.py", "test_generation": "example_tests/test_llm.py"}


def run_suite(args: argparse.Namespace, backends: str, report: Path, target: str = SUITE) -> dict:
    """The report of one pytest process over `target` (the example suite, or one test)."""
    env = {**os.environ, "PYTEST_PLUGINS": "pytest_aotperf.plugin"} if args.load_plugin else dict(os.environ)
    command = [sys.executable, "-m", "pytest", target, f"--aot-backend={backends}", "-p", "no:cacheprovider"]
    command += ["-q", f"--aot-max-time={args.max_time}", f"--aot-report={report}"]
    subprocess.run(command, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(report.read_text())


def memory(report: dict) -> dict:
    """{test: {metric: bytes}} of the memory metrics a report holds."""
    return {
        test["test"]: {
            name: test["metrics"][name].get("value")
            for name in (*MEMORY_METRICS, *(BUILD_PREFIX + name for name in MEMORY_METRICS))
            if name in test["metrics"]
        }
        for test in report["tests"]
    }


def main() -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--backends", default="inductor,eager", help="the whole suite's backends, in order")
    parser.add_argument("--alone", default="", help="backends whose tests also run alone (default: all)")
    parser.add_argument("--max-time", default="0.2", help="--aot-max-time of every run")
    parser.add_argument("--select", default="", help="only tests whose name holds this run alone (e.g. mlp)")
    parser.add_argument("--load-plugin", action="store_true", help="load the plugin by name (a checkout on PYTHONPATH)")
    add_out_file(parser)
    args = parser.parse_args()
    alone_backends = (args.alone or args.backends).split(",")
    with tempfile.TemporaryDirectory() as folder:
        whole = memory(run_suite(args, args.backends, Path(folder) / "whole.json"))
        alone = {}
        chosen = (t for t in whole if args.select in t and any(f"[{b}-" in t for b in alone_backends))
        for test in sorted(chosen):
            backend = test.split("[")[1].split("-")[0]
            target = f"{FILES[test.split('[')[0]]}::{test}"
            report = run_suite(args, backend, Path(folder) / "alone.json", target)
            alone.update({name: values for name, values in memory(report).items() if name == test})
    rows, differing = [], 0
    for test, metrics in alone.items():
        for name, value in metrics.items():
            other = whole[test].get(name)
            if value is None or other is None:
                continue
            same = abs(other - value) <= value * TOLERANCE + MEMORY_SLACK_BYTES
            differing += not same
            rows.append({"test": test, "metric": name, "alone": value, "whole_suite": other, "same": same})
            print(f"{test:32} {name:20} alone {value / 2**20:9.1f} MiB  suite {other / 2**20:9.1f} MiB  {same}")
    print(f"{len(rows)} comparisons, {differing} beyond 5% + {MEMORY_SLACK_BYTES // 2**20} MiB")
    write_json(args.out, {"backends": args.backends, "rows": rows})
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
