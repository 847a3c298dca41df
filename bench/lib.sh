# shellcheck shell=bash
# Shared by the bench/run-*-bench.sh scripts, sourced first thing: they work
# from the repo root, with everything they print also in
# build/bench/<script>.log; progress lines, notes gathered for the summary,
# and the set-up steps they have in common.

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
out=build/bench
mkdir -p "$out"
bench_name=$(basename "$0" .sh)
log=$out/$bench_name.log
exec > >(tee "$log") 2>&1
notes=()

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }
die() {
    echo "$bench_name: $*" >&2
    exit 1
}
note() {
    echo "NOTE: $*"
    notes+=("$*")
}

# What is measured: the machine, its load, the tree.
print_machine() {
    echo "machine: $(nproc) cores, $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "tree: $(git rev-parse --short HEAD 2>/dev/null) $(git log -1 --format=%s 2>/dev/null | cut -c1-60)"
    dirty=$(git status --short -- src extension Makefile 2>/dev/null | tr '\n' ' ')
    [ -n "$dirty" ] && echo "uncommitted in src/extension: $dirty"
}

# The local mail world, started when it is not running (root only).
ensure_world() {
    step "the test world"
    if ! testworld/world.sh status >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || die "the test world is not running and starting it needs root"
        testworld/world.sh start || die "testworld/world.sh start failed"
    fi
    testworld/world.sh status
}

# The installed module, rebuilt and installed when older than the sources;
# a failed build measures the module installed before (with a note). Sets
# `installed`, the module's path.
ensure_extension() {
    step "the extension"
    local make_log="$out/$bench_name-make.log"
    installed="$(pg_config --pkglibdir)/email_verify.so"
    if [ ! -f "$installed" ] ||
        [ -n "$(find src extension Makefile email_verify.control \( -name '*.cpp' -o -name '*.h' -o -name '*.sql' -o -name Makefile -o -name '*.control' \) -newer "$installed" -print -quit 2>/dev/null)" ]; then
        echo "the installed module is older than the sources: make -j2 && make install"
        if ! { make -s -j2 && make -s install; } >"$make_log" 2>&1; then
            tail -20 "$make_log"
            [ -f "$installed" ] || die "make failed and nothing is installed"
            note "make / make install failed (see $make_log); measuring the module installed before"
        fi
    else
        echo "installed module is up to date: $installed"
    fi
    echo "installed module: $(stat -c '%y' "$installed" | cut -d. -f1)"
}
