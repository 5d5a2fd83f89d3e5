#!/usr/bin/env bash
# The example suite on the GPU machine: refresh the baselines, then check the suite against them.
#   PYTHONPATH=. [AOT_BACKENDS=cudagraph] bash benchmarks/gpu_example_suite.sh [OUT_DIR]
# AOT_BACKENDS picks the backends (default: eager,inductor,cudagraph,vllm; vllm needs vLLM staged).
# Writes refresh.log/json, check.log/json/md and baselines.tgz (the machine's new baselines) to OUT_DIR.
set -uo pipefail
out=${1:-${OUT:-reports}}
mkdir -p "$out"
backends=${AOT_BACKENDS:-eager,inductor,cudagraph,vllm}
# A checkout run with PYTHONPATH=. (not pip-installed) has no pytest11 entry point: load the plugin by name.
python -c "import importlib.metadata as md, sys; sys.exit(not any(e.name == 'aotperf' for e in md.entry_points(group='pytest11')))" \
    || export PYTEST_PLUGINS=pytest_aotperf.plugin
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv
python -m pytest example_tests --aot-backend=$backends -p no:cacheprovider -q -rs \
    --aot-update-baselines --aot-report="$out/refresh.json" > "$out/refresh.log" 2>&1
echo "refresh: exit $?"
python -m pytest example_tests --aot-backend=$backends -p no:cacheprovider -q -rs \
    --aot-report="$out/check.json" --aot-report-md="$out/check.md" > "$out/check.log" 2>&1
echo "check: exit $?"
grep -v -E "^\((EngineCore|Worker|MainProcess|APIServer)|^(INFO|WARNING|DEBUG) " "$out/check.log" | tail -n 80
tar czf "$out/baselines.tgz" baselines
