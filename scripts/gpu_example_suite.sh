#!/usr/bin/env bash
# The example suite on the GPU machine: refresh the baselines, then check the suite against them.
#   PYTHONPATH=. [AOT_BACKENDS=cudagraph] bash scripts/gpu_example_suite.sh [OUT_DIR]
# AOT_BACKENDS picks the backends (default: eager,inductor,cudagraph,vllm; vllm needs vLLM staged).
# Each backend runs in a pytest process of its own, as the nightly job runs them.
# Writes refresh-BACKEND.log/json, check-BACKEND.log/json/md and baselines.tgz (the machine's new
# baselines) to OUT_DIR.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/plugin.sh"
out=${1:-${OUT:-reports}}
mkdir -p "$out"
backends=${AOT_BACKENDS:-eager,inductor,cudagraph,vllm}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv
for backend in ${backends//,/ }; do
    python -m pytest example_tests --aot-backend="$backend" -p no:cacheprovider -q -rs \
        --aot-refresh --aot-report="$out/refresh-$backend.json" > "$out/refresh-$backend.log" 2>&1
    echo "refresh $backend: exit $?"
done
for backend in ${backends//,/ }; do
    python -m pytest example_tests --aot-backend="$backend" -p no:cacheprovider -q -rs \
        --aot-report="$out/check-$backend.json" --aot-report-md="$out/check-$backend.md" > "$out/check-$backend.log" 2>&1
    echo "check $backend: exit $?"
    grep -v -E "^\((EngineCore|Worker|MainProcess|APIServer)|^(INFO|WARNING|DEBUG) " "$out/check-$backend.log" | tail -n 40
done
tar czf "$out/baselines.tgz" baselines
