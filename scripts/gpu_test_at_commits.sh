#!/usr/bin/env bash
# One pytest selection run at several commits, each in its own process, on the GPU machine (which receives
# the working tree without `.git`: the history travels as a bundle, `git bundle create .abgit/all.bundle
# HEAD main`, carried). Finds the commit that moved a reading, e.g. the first inductor LLM test's memory:
#   bash scripts/gpu_test_at_commits.sh OUT_DIR "example_tests/test_llm.py --aot-backend=inductor -k inductor-1" 686978f 7105e3d
# Writes OUT_DIR/commits.tgz holding COMMIT.json (--aot-report) and COMMIT.log; prints each test's host memory.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/plugin.sh"
out=$(realpath -m "$1") selection=$2
shift 2
repo=$(mktemp -d)/repo work=$(mktemp -d)
git -c advice.detachedHead=false clone -q .abgit/all.bundle "$repo" || exit 2
mkdir -p "$out"
for commit in "$@"; do
    git -C "$repo" checkout -q "$commit" || exit 2
    start=$(date +%s)
    # shellcheck disable=SC2086  # the selection is pytest's arguments, split on purpose
    (cd "$repo" && PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" python -m pytest $selection -p no:cacheprovider -q \
        --aot-report="$work/$commit.json" > "$work/$commit.log" 2>&1)
    echo "$commit: exit $? in $(( $(date +%s) - start )) s"
    python - "$work/$commit.json" <<'PY'
import json, sys
for test in json.load(open(sys.argv[1]))["tests"]:
    rss = {name: f"{m['value'] / 2**20:.1f} MiB" for name, m in test["metrics"].items() if "rss" in name and m.get("value")}
    print(" ", test["nodeid"], rss)
PY
    tar czf "$out/commits.tgz" -C "$work" .
done
