#!/bin/bash
# The typo-suggester figures (README.md, "Benchmarks"), in one run, with
# mailcheck's algorithm (npm mailcheck, pinned in test/differential) given the
# same provider list as comparator:
#
#   1. suggestions over the shipped free-provider list (real mailbox domains;
#      target 0)
#   2. over the one-edit typos (deletion, insertion, substitution,
#      transposition) of the 50 biggest providers: exact / wrong / none
#      (target >= 98% exact, <= 1% wrong), overall and per class
#
#   bench/run-typo-bench.sh
#
# Builds the core in Release (build/typo-bench), installs the comparator's
# pinned npm package (npm ci) and runs test/differential/compare-typos.js.
# Ends with a summary, each line PASS or FAIL against its target. It measures
# and does not gate: FAIL still exits 0 (a step that could not run at all
# exits 1). Everything printed is also in build/bench/run-typo-bench.log.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh, next to this script
. "$(dirname "$0")/lib.sh"

build=build/typo-bench
print_machine

step "build the suggester's command-line driver in Release"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEV_BENCH=OFF >"$out/typo-cmake.log" ||
    die "cmake configure failed (see $out/typo-cmake.log)"
cmake --build "$build" -j"$(nproc)" --target typo_suggest_cli >>"$out/typo-cmake.log" ||
    die "build failed (see $out/typo-cmake.log)"

step "the comparator: npm mailcheck (npm ci, pinned)"
npm ci --prefix test/differential --no-audit --no-fund >/dev/null || die "npm ci failed"

step "ours and mailcheck over the same domains"
report=$(timeout 300 node test/differential/compare-typos.js "$build/typo_suggest_cli" --report) ||
    die "compare-typos.js failed"
echo "$report"

summary=$(grep '^SUMMARY ' <<<"$report") || die "no SUMMARY line"
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$summary "; }
verdict() { if awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; then echo PASS; else echo FAIL; fi; }

step "summary"
printf '%-58s %-22s %-22s %s\n' figure ours mailcheck target
printf '%-58s %-22s %-22s %s\n' "suggestions over the free-provider list ($(field free_n) domains)" \
    "$(field free_ours)" "$(field free_mailcheck)" "0: $(verdict "$(field free_ours)" == 0)"
printf '%-58s %-22s %-22s %s\n' "one-edit typos of the 50 biggest providers: exact" \
    "$(field ours_exact)%" "$(field mailcheck_exact)%" ">= 98%: $(verdict "$(field ours_exact)" '>=' 98)"
printf '%-58s %-22s %-22s %s\n' "  wrong" "$(field ours_wrong)%" "$(field mailcheck_wrong)%" \
    "<= 1%: $(verdict "$(field ours_wrong)" '<=' 1)"
printf '%-58s %-22s %-22s %s\n' "  none" "$(field ours_none)%" "$(field mailcheck_none)%" "-"
printf '%-58s %-22s %-22s %s\n' "  (typos scored: $(field scored))" "" "" ""
