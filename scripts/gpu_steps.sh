#!/usr/bin/env bash
# A device session's GPU work as steps under one deadline, so that few calls carry it (the machine goes back
# to the pool 30 s after a call, and each start costs device time). Each STEP is a command line; the steps run
# in order, each under what is left of SECONDS; one that finishes (whatever its exit status) is marked done,
# one that the deadline cuts off is not, so the same command in the next call on the warm machine skips
# the finished steps and runs the rest (a step that keeps its own state, as gpu_ab_proof.sh does, goes on).
# vLLM staged by ../shared/gpu/stage-vllm is put in place first: part 1 where carried, then part 2 (once).
# A step is started only with GPU_STEPS_MIN_S (default 60) seconds left; the marks live in GPU_STEPS_STATE.
#   bash scripts/gpu_steps.sh SECONDS 'STEP' ['STEP' ...]
#   bash scripts/gpu_steps.sh 560 'bash scripts/gpu_ab_proof.sh self vllm $OUT Y-self-vllm 3' \
#       'python -m benchmarks.decode_step --backends cudagraph,vllm --out $OUT > $OUT/decode.log 2>&1'
set -u
deadline=$(( $(date +%s) + $1 )); shift
state=${GPU_STEPS_STATE:-/tmp/gpu-steps} least=${GPU_STEPS_MIN_S:-60}
mkdir -p "$state" || exit 2
stage=/tmp/vllm-stage
if [ ! -f $stage/vllm/_C_stable_libtorch.abi3.so ] && [ -f .gpu-stage/part1/unpack.sh ]; then
    bash .gpu-stage/part1/unpack.sh
fi
if [ -f $stage/vllm/__init__.py ]; then
    export PYTHONPATH=$stage:/tmp/vllm-site${PYTHONPATH:+:$PYTHONPATH} VLLM_USE_FLASHINFER_SAMPLER=0
elif [ -f .gpu-stage/part2/unpack.sh ]; then
    source .gpu-stage/part2/unpack.sh
fi
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null
for step in "$@"; do
    done_mark=$state/$(printf '%s' "$step" | md5sum | cut -c1-12)
    if [ -f "$done_mark" ]; then echo "done in an earlier call: $step"; continue; fi
    left=$(( deadline - $(date +%s) ))
    if [ $left -lt "$least" ]; then echo "not started, $left s left: $step"; continue; fi
    start=$(date +%s)
    timeout $left bash -c "$step"
    code=$?
    echo "exit $code in $(( $(date +%s) - start )) s: $step"
    [ $code -ne 124 ] && [ $code -ne 137 ] && touch "$done_mark"
done
