#!/bin/bash
# Lint: the C++ against .clang-format (clang-format --dry-run -Werror) and
# .clang-tidy (clang-tidy, every warning an error), the shell scripts with
# ShellCheck; any finding fails the run. Called by test/run-all.sh; runs
# alone from anywhere (as root it installs a missing tool with apt-get).
#   LINT_JOBS  clang-tidy processes at once (default: the number of CPUs)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1

# What is checked, by path: the C++ (.cpp, .h) under cxx_paths, the shell
# scripts (.sh) under shell_paths.
cxx_paths=(src/core src/pg test/unit test/fuzz tools bench)
shell_paths=(scripts test testworld bench)

build=build/lint
jobs=${LINT_JOBS:-$(nproc)}

# The tools, Debian 12's (clang 14: .clang-format and .clang-tidy are
# written for it, so the versioned names win when both exist).
tool() {
    local name
    for name in "$1-14" "$1"; do
        command -v "$name" >/dev/null 2>&1 && { echo "$name"; return 0; }
    done
    return 1
}
missing=()
tool clang-format >/dev/null || missing+=(clang-format)
tool clang-tidy >/dev/null || missing+=(clang-tidy)
tool shellcheck >/dev/null || missing+=(shellcheck)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "lint: missing ${missing[*]} (install them with apt-get as root)" >&2
        exit 1
    fi
    echo "lint: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }; then
        echo "lint: could not install ${missing[*]}" >&2
        exit 1
    fi
fi
clang_format=$(tool clang-format)
clang_tidy=$(tool clang-tidy)

# The repository's files under the given paths whose names match a pattern:
# those git tracks (not another engineer's untracked work in progress), or
# every file when this is not a git checkout.
files_under() {
    local pattern=$1
    shift
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -- "$@"
    else
        find "$@" -type f
    fi | grep -E "$pattern" | grep -vE '\.gen\.cpp$' | sort
}
mapfile -t cxx_files < <(files_under '\.(cpp|h)$' "${cxx_paths[@]}")
mapfile -t cxx_sources < <(printf '%s\n' "${cxx_files[@]}" | grep -E '\.cpp$')
mapfile -t shell_files < <(files_under '\.sh$' "${shell_paths[@]}")

failed=()

echo "--- clang-format: ${#cxx_files[@]} files"
"$clang_format" --dry-run -Werror "${cxx_files[@]}" || failed+=(clang-format)

echo "--- shellcheck: ${#shell_files[@]} scripts"
shellcheck -x "${shell_files[@]}" || failed+=(shellcheck)

# clang-tidy needs each source's compile command. CMake knows the core's,
# the unit tests', ev_probe's and core_bench's (configured only, nothing is
# built); src/pg's come from the Makefile's own flags; a source neither
# builds (the fuzz targets, bench's stand-alone tools) gets the core's.
echo "--- clang-tidy: ${#cxx_sources[@]} sources, $jobs at a time"
compile_commands() {
    cmake -S . -B "$build/cmake" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_BUILD_TYPE=Debug \
        -DEV_BENCH=OFF -DEV_FUZZ=OFF -DEV_SANITIZE=OFF >"$build/cmake.log" 2>&1 ||
        { cat "$build/cmake.log"; return 1; }
    local pg_flags=""
    if printf '%s\n' "${cxx_sources[@]}" | grep -q '^src/pg/'; then
        # PGXS's own CPPFLAGS (PG_CPPFLAGS and the server's include
        # directories) and the Makefile's PG_CXXFLAGS, less the dependency
        # files, which are the build's business.
        pg_flags=$(make -s --no-print-directory -f Makefile -f - lint-print-flags <<'EOF'
lint-print-flags:
	@echo $(CPPFLAGS) $(filter-out -MMD -MP,$(PG_CXXFLAGS))
EOF
        ) || return 1
    fi
    python3 - "$build" "$pg_flags" "${cxx_sources[@]}" <<'EOF'
import json, os, shlex, sys

build, pg_flags, sources = sys.argv[1], sys.argv[2], sys.argv[3:]
repo = os.getcwd()
with open(os.path.join(build, "cmake", "compile_commands.json")) as f:
    cmake = {os.path.realpath(e["file"]): e for e in json.load(f)}

def arguments(entry):
    # The compiler and its flags, without the input, the output and -Werror:
    # clang-tidy makes every warning in our files an error by itself, and
    # clang warns about gcc-only attributes in PostgreSQL's headers.
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("-o", "-c"):
            skip = True
        elif a == "-Werror":
            pass
        elif os.path.realpath(os.path.join(entry["directory"], a)) != os.path.realpath(entry["file"]):
            out.append(a)
    return out

core = next(e for p, e in sorted(cmake.items()) if "/src/core/" in p)
database = []
for source in sources:
    path = os.path.realpath(source)
    if path in cmake:
        entry = cmake[path]
        database.append({"directory": entry["directory"], "file": path, "arguments": arguments(entry) + ["-c", path]})
    elif source.startswith("src/pg/"):
        pg = {"directory": repo, "file": path, "arguments": ["c++"] + shlex.split(pg_flags) + ["-c", path]}
        database.append({**pg, "arguments": arguments(pg) + ["-c", path]})
    else:
        database.append({"directory": core["directory"], "file": path, "arguments": arguments(core) + ["-c", path]})
with open(os.path.join(build, "compile_commands.json"), "w") as f:
    json.dump(database, f, indent=1)
EOF
}
# One source: its findings (compiler noise dropped) only when it fails.
tidy_one() {
    local out rc
    out=$("$clang_tidy" -p "$build" --quiet --warnings-as-errors='*' "$1" 2>&1)
    rc=$?
    [ $rc -eq 0 ] || printf '%s\n' "$out" | grep -vE '^[0-9]+ (warning|error)s? (and [0-9]+ errors? )?generated\.$'
    return $rc
}
export -f tidy_one
export clang_tidy build
mkdir -p "$build"
if compile_commands; then
    # shellcheck disable=SC2016  # $1 is bash -c's own argument
    printf '%s\0' "${cxx_sources[@]}" | xargs -0 -n 1 -P "$jobs" bash -c 'tidy_one "$1"' _ || failed+=(clang-tidy)
else
    echo "lint: could not write $build/compile_commands.json" >&2
    failed+=(clang-tidy)
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "lint: FAILED: ${failed[*]}"
    exit 1
fi
echo "lint: clean (clang-format, clang-tidy, shellcheck)"
