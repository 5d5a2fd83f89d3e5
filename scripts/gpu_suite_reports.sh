#!/usr/bin/env bash
# The example suite on the GPU machine, one pytest process per backend (as the nightly job runs it),
# each judged against the committed baselines and writing its report: the runs that record
# baselines (`aotperf refresh --from-reports`) and the checks on machines that did not record them.
# Record with vLLM staged, as the nightly has it installed: a host memory reading depends on it (docs section 13).
#   PYTHONPATH=. bash scripts/gpu_suite_reports.sh BACKEND[,BACKEND...] OUT_DIR TAG
# Writes OUT_DIR/TAG-reports.tgz holding TAG-BACKEND.json/.md/.log, again after each backend (a call cut
# short by its time limit keeps the backends that finished).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/plugin.sh"
backends=$1 out=$2 tag=$3
work=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv,noheader
python -c 'from pytest_aotperf.environment import package_version as version
print("torch", version("torch"), "| vllm", version("vllm") or "not installed (the nightly has it: record with it staged)")'
for backend in ${backends//,/ }; do
    start=$(date +%s)
    python -m pytest example_tests --aot-backend="$backend" -p no:cacheprovider -q -rs --durations=4 \
        --aot-report="$work/$tag-$backend.json" --aot-report-md="$work/$tag-$backend.md" > "$work/$tag-$backend.log" 2>&1
    echo "$tag $backend: exit $? in $(( $(date +%s) - start )) s"
    grep -E "^aotperf: [0-9]+ regressed|passed|failed|error|s (call|setup) " "$work/$tag-$backend.log" | tail -n 8
    mkdir -p "$out" && tar czf "$out/$tag-reports.tgz" -C "$work" .
done
