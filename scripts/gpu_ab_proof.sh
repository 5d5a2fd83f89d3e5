#!/usr/bin/env bash
# `aotperf ab` on the GPU machine, which receives the working tree without `.git`: the commit travels as a
# bundle (`git bundle create .abgit/repo.bundle HEAD`, carried) and is cloned here.
#   self:      the commit against itself (every regression is a false one);
#   regressed: a commit on top that turns three of the example models' knobs on by default (the compiled
#              call's device time 1.2x, a forward hook on every module, one graph break) against the commit.
#   PYTHONPATH=. bash scripts/gpu_ab_proof.sh self|regressed BACKEND[,BACKEND...] OUT_DIR TAG [ROUNDS [PYTEST ARGS]]
# Writes OUT_DIR/TAG-ab.md, TAG-ab.json and TAG-ab.log; prints the wall time and the verdict counts.
# The clone and the comparison (`aotperf ab --work-dir`) are kept under /tmp/aotperf-ab-proof: a call cut off by
# the device's time limit is continued by the same command in the next call on the same (warm) machine.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/plugin.sh"
mode=$1 backends=$2 out=$(realpath -m "$3") tag=$4 rounds=${5:-3}
shift $(( $# < 5 ? $# : 5 ))
case $mode in
    self) base=HEAD ;;
    regressed) base=HEAD~1 ;;
    *) echo "mode must be self or regressed, not $mode"; exit 2 ;;
esac
bundled=$(git bundle list-heads .abgit/repo.bundle HEAD | cut -d' ' -f1)
state=/tmp/aotperf-ab-proof/$mode-$backends repo=/tmp/aotperf-ab-proof/$mode-$backends/repo
if [ "$(git -C "$repo" rev-parse "$base" 2>/dev/null)" != "$bundled" ]; then
    rm -rf "$state" && mkdir -p "$state" || exit 2
    git -c advice.detachedHead=false clone -q .abgit/repo.bundle "$repo" || exit 2
    git -C "$repo" config user.email ab@aotperf.invalid && git -C "$repo" config user.name "aotperf ab proof"
    if [ "$mode" = regressed ]; then
        sed -i 's/^KNOB_DEFAULTS: Dict\[str, str\] = {}$/KNOB_DEFAULTS: Dict[str, str] = {"DEVICE_SLOWDOWN": "1.2", "HOOKS": "1", "GRAPH_BREAK": "1"}/' \
            "$repo/example_tests/models.py"
        git -C "$repo" diff --quiet && { echo "the knobs' defaults were not found in example_tests/models.py"; exit 2; }
        git -C "$repo" commit -qam "The example models regressed: 1.2x device time, forward hooks, a graph break" || exit 2
    fi
fi
cd "$repo" || exit 2
export PYTHONPATH=$repo${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$out"
start=$(date +%s)
python -m pytest_aotperf ab "$base" --rounds "$rounds" --work-dir "$state/work" --report-md "$out/$tag-ab.md" \
    --report-json "$out/$tag-ab.json" example_tests --aot-backend="$backends" -p no:cacheprovider -q "$@" \
    >> "$out/$tag-ab.log" 2>&1
code=$?
echo "$tag ($mode, $backends, $rounds rounds): exit $code in $(( $(date +%s) - start )) s (this call; rounds kept from earlier calls say so)"
grep -E "^aotperf ab|^round |regressed|improved" "$out/$tag-ab.log" | head -n 40
exit $code
