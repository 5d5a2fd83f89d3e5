#!/usr/bin/env bash
# The regressions the example models' knobs inject, each in its own pytest process on the GPU machine and
# judged against the committed baselines: every run should fail, naming its metric (issue 21's check).
#   PYTHONPATH=. bash scripts/gpu_injections.sh OUT_DIR TAG [NAME...]
# Runs a 1.2x device slowdown on eager, cudagraph and inductor (slow-BACKEND), forward hooks on eager's MLPs
# (hooks), and one more graph break on inductor's and cudagraph's MLPs (break-BACKEND); only the NAMEs given,
# if any. Writes OUT_DIR/TAG-injections.tgz holding TAG-NAME.json/.md/.log, again after each run; prints each
# run's exit status and failure lines.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/plugin.sh"
out=$(realpath -m "$1") tag=$2
shift 2
selected=" $* "
work=$(mktemp -d)

inject() {  # NAME KNOB=VALUE BACKEND [PYTEST ARGS...]
    local name=$1 knob=$2 backend=$3 start
    shift 3
    [[ "$selected" == "  " || "$selected" == *" $name "* ]] || return 0
    start=$(date +%s)
    env "AOTPERF_EXAMPLE_$knob" python -m pytest example_tests/test_models.py --aot-backend="$backend" -p no:cacheprovider \
        -q "$@" --aot-report="$work/$tag-$name.json" --aot-report-md="$work/$tag-$name.md" > "$work/$tag-$name.log" 2>&1
    echo "$tag $name ($knob, $backend): exit $? in $(( $(date +%s) - start )) s"
    grep -E "^aotperf: test_|passed|failed" "$work/$tag-$name.log" | tail -n 40
    mkdir -p "$out" && tar czf "$out/$tag-injections.tgz" -C "$work" .
}

for backend in eager cudagraph inductor; do
    inject "slow-$backend" DEVICE_SLOWDOWN=1.2 "$backend"
done
inject hooks HOOKS=1 eager -k mlp
inject break-inductor GRAPH_BREAK=1 inductor -k mlp
inject break-cudagraph GRAPH_BREAK=1 cudagraph -k mlp
