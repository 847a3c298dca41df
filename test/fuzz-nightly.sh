#!/bin/bash
# Nightly-size fuzzing: every libFuzzer target of test/fuzz (or the ones
# named) for FUZZ_RUNS executions each (default 10,000,000), with ASan and
# UBSan, starting from the target's seed corpus. The CI run (test/run-all.sh)
# stays bounded by FUZZ_SECONDS; this is the long one, for a nightly job or
# by hand (as any user, clang needed: scripts/install-deps.sh).
#   test/fuzz-nightly.sh                     # all targets, 10 million runs each
#   test/fuzz-nightly.sh address_fuzz        # one target
#   FUZZ_RUNS=50000000 test/fuzz-nightly.sh  # longer
# A crash leaves its input as build/fuzz/<target>-crash-*; the corpus grown
# on the way stays in build/fuzz/<target>.corpus. Exits non-zero if any
# target failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
runs=${FUZZ_RUNS:-10000000}
jobs=$(nproc)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for src in test/fuzz/*_fuzz.cpp; do
        name=$(basename "$src" .cpp)
        targets+=("$name")
    done
fi

# address_fuzz predates the <name>_corpus convention.
corpus_of() {
    local target=$1
    if [ -d "test/fuzz/${target%_fuzz}_corpus" ]; then
        echo "test/fuzz/${target%_fuzz}_corpus"
    elif [ "$target" = address_fuzz ]; then
        echo test/fuzz/corpus
    fi
}

CXX=clang++ cmake -S . -B build/fuzz -DEV_FUZZ=ON -DEV_SANITIZE=ON -DEV_BENCH=OFF >/dev/null || exit 1
failed=()
for target in "${targets[@]}"; do
    echo "=== $target: $runs runs"
    started=$SECONDS
    if ! cmake --build build/fuzz -j"$jobs" --target "$target" >/dev/null; then
        failed+=("$target (build)")
        continue
    fi
    mkdir -p "build/fuzz/$target.corpus"
    seeds=$(corpus_of "$target")
    [ -n "$seeds" ] && cp "$seeds"/* "build/fuzz/$target.corpus/" 2>/dev/null
    if "build/fuzz/$target" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/$target-" "build/fuzz/$target.corpus" 2>"build/fuzz/$target.nightly.log"; then
        grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "build/fuzz/$target.nightly.log"
        echo "=== $target: ok ($((SECONDS - started)) s)"
    else
        tail -n 30 "build/fuzz/$target.nightly.log"
        failed+=("$target")
        echo "=== $target: FAILED ($((SECONDS - started)) s)"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    printf 'failed: %s\n' "${failed[@]}"
    exit 1
fi
echo "all ${#targets[@]} targets: $runs runs each, no failure"
