#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine (as root):
# dependencies, lint (test/lint.sh), the C++ core under ASan/UBSan
# (GoogleTest), a bounded fuzz run, the extension built and installed,
# pg_regress and TAP against a throwaway cluster. Ends with "N passed, N
# failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-45}
jobs=$(nproc)

passed=0
failed=0
failures=()
step() {
    local name=$1
    shift
    echo "=== $name"
    local started=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "=== $name: ok ($((SECONDS - started)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "=== $name: FAILED ($((SECONDS - started)) s)"
    fi
}

core_tests() {
    cmake -S . -B build/asan -DEV_SANITIZE=ON -DEV_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
        cmake --build build/asan -j"$jobs" &&
        (cd build/asan && ctest --output-on-failure -j"$jobs")
}

# One bounded libFuzzer run per parser; each target keeps its own corpus.
fuzz_target() {
    local target=$1 corpus=$2
    CXX=clang++ cmake -S . -B build/fuzz -DEV_FUZZ=ON -DEV_SANITIZE=ON -DEV_BENCH=OFF >/dev/null &&
        cmake --build build/fuzz -j"$jobs" --target "$target" &&
        mkdir -p "build/fuzz/$target.corpus" && cp "$corpus"/* "build/fuzz/$target.corpus/" &&
        "build/fuzz/$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="build/fuzz/$target-" "build/fuzz/$target.corpus" \
            2>"build/fuzz/$target.log"
    local rc=$?
    tail -n 12 "build/fuzz/$target.log" 2>/dev/null
    return $rc
}

# Issue 16: our syntax level against Debian's python-email-validator on
# ~41,000 generated addresses (test/differential/); the reviewed differences
# are test/differential/syntax_differences.txt. About 20 s.
syntax_differential() {
    cmake --build build/asan -j"$jobs" --target ev_syntax &&
        timeout -k 10 110 /usr/bin/python3 test/differential/run_syntax_differential.py build/asan/ev_syntax
}

build_and_install() {
    make -j"$jobs" >/dev/null && make install >/dev/null
}

regress() {
    eval "$(scripts/cluster.sh env)"
    make installcheck || { head -n 200 regression.diffs 2>/dev/null; return 1; }
}

step "install dependencies" scripts/install-deps.sh
# The webhook receiver's pinned npm packages (TAP 023 and the bulk-job suites).
step "webhook receiver's npm packages (npm ci)" \
    npm ci --prefix test/webhook-receiver --no-audit --no-fund
step "lint (clang-format, clang-tidy, shellcheck)" test/lint.sh
step "core unit tests (GoogleTest, ASan+UBSan)" core_tests
step "syntax differential against python-email-validator" syntax_differential
step "fuzz address parser (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target address_fuzz test/fuzz/corpus
step "fuzz SMTP reply reader (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target smtp_reply_fuzz test/fuzz/smtp_reply_corpus
step "fuzz DNS answer handling (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target dns_answer_fuzz test/fuzz/dns_answer_corpus
step "fuzz cache codecs (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target cache_codec_fuzz test/fuzz/cache_codec_corpus
step "fuzz SOCKS5 handshake and reply parser (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target socks5_reply_fuzz test/fuzz/socks5_reply_corpus
step "fuzz SOCKS5 URL and source address parsers (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target socks5_url_fuzz test/fuzz/socks5_url_corpus
step "fuzz webhook URL check and Retry-After reader (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target webhook_url_fuzz test/fuzz/webhook_url_corpus
step "fuzz the log filter's SQL literal masking (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target sql_redaction_fuzz test/fuzz/sql_redaction_corpus
step "fuzz provider rules (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target provider_rules_fuzz test/fuzz/provider_rules_corpus
step "fuzz the remote prober's configuration file (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target config_file_fuzz test/fuzz/config_file_corpus
# Issue 16: the typo suggester against mailcheck (npm, pinned) over the
# one-edit typos of the 50 biggest providers, and over the real-domain lists.
typo_differential() {
    npm ci --prefix test/differential --no-audit --no-fund >/dev/null &&
        cmake -S . -B build/asan -DEV_SANITIZE=ON -DEV_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
        cmake --build build/asan -j"$jobs" --target typo_suggest_cli >/dev/null &&
        timeout 100 node test/differential/compare-typos.js build/asan/typo_suggest_cli
}
step "typo suggester vs mailcheck (differential, one-edit typos)" typo_differential
step "fuzz typo suggester (${FUZZ_SECONDS}s, libFuzzer+ASan)" fuzz_target typo_suggest_fuzz test/fuzz/typo_suggest_corpus
step "build and install extension" build_and_install
# The README's commands from clones under a mode-700 directory and a path
# with a space, a second one beside the first (about 20 s).
step "README commands from clones under a mode-700 directory and a path with a space" \
    timeout -k 30 240 test/clone_anywhere.sh
scripts/cluster.sh stop
rm -rf .cluster "$(readlink -f .cluster 2>/dev/null)"
step "start throwaway cluster" scripts/cluster.sh start
step "start the local mail world (unbound, Postfix, postgrey, scripted SMTP)" testworld/world.sh start
# The TAP suites read the world's addresses and log directory from here.
eval "$(testworld/world.sh env)"
step "pg_regress suites" regress
step "TAP suites" test/run-tap.sh
scripts/cluster.sh stop
testworld/world.sh stop

echo
if [ $failed -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
