#!/bin/bash
# The syntax-level benchmarks (README.md, "Benchmarks"), in one run:
#
#   1. core: parse + normalise + list flags + typo check, median ns/address on
#      the 100k mixed list (target <= 628 ns, the figure before issue 16's
#      NFC and stricter IDNA checks) and on a 100k Unicode-heavy list
#      (bench/make_unicode_address_list.py, target <= 1000 ns)
#   2. core addresses/s against Python's email_validator on each list
#      (target >= 10x)
#   3. SQL: verify_email(e, 'syntax') filter against the plain regex filter
#      over 1.6M rows, per core (max_parallel_workers_per_gather = 0) and
#      with the default parallelism (target verify <= 3x regex, per core)
#
#   bench/run-syntax-bench.sh
#
# Builds the core in Release (build/bench), generates the list there, runs
# core_bench (5 repetitions, medians), the Python comparator (3 passes,
# median), builds and installs the extension (make && make install), starts
# the throwaway cluster (scripts/cluster.sh) and runs bench/sql_syntax_bench.sh.
# Ends with a summary table, each line PASS or FAIL against its target. It
# measures and does not gate: FAIL still exits 0 (a step that could not run
# at all exits 1). Everything printed is also in build/bench/run-syntax-bench.log.
#
# Environment: EV_BENCH_N (list size, default 100000), EV_BENCH_ROWS (SQL
# table rows, default 1600000), EV_SQL_ROUNDS (default 5), EV_PY_REPEAT
# (default 3), EV_SKIP_SQL=1 (skip the SQL part).
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh, next to this script
. "$(dirname "$0")/lib.sh"

n=${EV_BENCH_N:-100000}
rows=${EV_BENCH_ROWS:-1600000}
list=$out/addresses.txt
started=$(date +%s.%N)
problems=0

print_machine

step "build the core in Release"
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DEV_BENCH=ON >"$out/cmake-configure.log" ||
    die "cmake configure failed (see $out/cmake-configure.log)"
cmake --build "$out" -j2 --target core_bench || die "building core_bench failed"

step "generate the list ($n addresses)"
python3 bench/make_address_list.py -n "$n" -o "$list" || die "make_address_list.py failed"
echo "$list: $(wc -l <"$list") addresses"

ulist=$out/unicode_addresses.txt
python3 bench/make_unicode_address_list.py -n "$n" -o "$ulist" || die "make_unicode_address_list.py failed"
echo "$ulist: $(wc -l <"$ulist") addresses"

step "core_bench (5 repetitions, aggregates), on each list"
core_json=$out/core_bench.json
ucore_json=$out/core_bench_unicode.json
for pair in "$list:$core_json" "$ulist:$ucore_json"; do
    EV_BENCH_LIST=${pair%%:*} "$out/core_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
        --benchmark_out="${pair#*:}" --benchmark_out_format=json || {
        echo "core_bench failed" >&2
        problems=1
    }
done

step "Python email_validator on the same list"
py_validator=""
for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import email_validator' 2>/dev/null; then
        py_validator=$candidate
        break
    fi
done
py_out=$out/python_email_validator.out
upy_out=$out/python_email_validator_unicode.out
if [ -n "$py_validator" ]; then
    "$py_validator" bench/python_email_validator.py "$list" --repeat "${EV_PY_REPEAT:-3}" | tee "$py_out" || problems=1
    "$py_validator" bench/python_email_validator.py "$ulist" --repeat "${EV_PY_REPEAT:-3}" | tee "$upy_out" || problems=1
else
    echo "no python3 with email_validator (apt-get install python3-email-validator)" >&2
    : >"$py_out"
    problems=1
fi

sql_out=$out/sql_syntax_bench.out
: >"$sql_out"
if [ "${EV_SKIP_SQL:-0}" != 1 ]; then
    step "build and install the extension"
    if make -s -j2 && make -s install; then
        step "SQL: verify_email(e, 'syntax') against the regex filter ($rows rows)"
        scripts/cluster.sh start &&
            EV_SQL_ROUNDS=${EV_SQL_ROUNDS:-5} bench/sql_syntax_bench.sh "$list" "$rows" | tee "$sql_out" || problems=1
    else
        echo "make / make install failed" >&2
        problems=1
    fi
fi

finished=$(date +%s.%N)
step "summary"
python3 - "$core_json" "$py_out" "$sql_out" "$started" "$finished" "$ucore_json" "$upy_out" <<'PY'
import json, re, sys

core_json, py_out, sql_out, started, finished, ucore_json, upy_out = sys.argv[1:8]

def aggregates(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}, {}
    out = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median":
            out[b["run_name"]] = b
    return out, data.get("context", {})

def to_ns(b, key):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b[key] * scale

def kv(line):
    return dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)

core, ctx = aggregates(core_json)
ucore, _ = aggregates(ucore_json)

def python_figures(path):
    try:
        for line in open(path, encoding="utf-8"):
            if line.startswith("PYTHON_EMAIL_VALIDATOR "):
                return kv(line)
    except OSError:
        pass
    return {}

py = python_figures(py_out)
upy = python_figures(upy_out)
sql = {}
try:
    for line in open(sql_out, encoding="utf-8"):
        if line.startswith("SQL_SYNTAX_BENCH "):
            d = kv(line)
            sql[d["mode"]] = d
except OSError:
    pass

rows = []  # (figure, measured, comparator/target, ratio, verdict)

def verdict(ok):
    return "PASS" if ok else "FAIL"

def core_rows(core, py, list_name, target_ns):
    m = core.get("BM_VerifyMixedList")
    label = f"core ns/address, {list_name} (median)"
    if m:
        ns, cpu = to_ns(m, "real_time"), to_ns(m, "cpu_time")
        rows.append((label, f"{ns:.0f} ns (cpu {cpu:.0f})", f"target {target_ns} ns",
                     f"{ns / target_ns:.2f}x target", verdict(ns <= target_ns)))
    else:
        rows.append((label, "n/a", f"target {target_ns} ns", "", "ERROR"))
    w = core.get("BM_VerifyWholeList")
    size = w.get("list_size") if w else None
    core_rate = size / (to_ns(w, "real_time") / 1e9) if w and size else None
    py_rate = float(py["median_addr_per_s"]) if py.get("median_addr_per_s") else None
    label = f"core vs python email_validator, {list_name}"
    if core_rate and py_rate:
        ratio = core_rate / py_rate
        rows.append((label, f"{core_rate:,.0f} addr/s", f"python {py_rate:,.0f} addr/s",
                     f"{ratio:.1f}x (target >= 10x)", verdict(ratio >= 10)))
    else:
        rows.append((label, f"{core_rate or 'n/a'}", f"python {py_rate or 'n/a'}", "", "ERROR"))
    return w, size

w, size = core_rows(core, py, "mixed list", 628)
core_rows(ucore, upy, "Unicode-heavy list", 1000)

for mode, label in (("serial", "SQL verify vs regex, 1 core"), ("parallel", "SQL verify vs regex, default parallel")):
    d = sql.get(mode)
    if not d:
        rows.append((label, "n/a", "", "", "SKIPPED" if not sql else "ERROR"))
        continue
    v, r, ratio = float(d["verify_median_ms"]), float(d["regex_median_ms"]), float(d["ratio"])
    target = "(target <= 3x)" if mode == "serial" else "(info; target is per core)"
    rows.append((label + f" ({d['workers']} workers)", f"verify {v:,.0f} ms", f"regex {r:,.0f} ms",
                 f"{ratio:.2f}x {target}", verdict(ratio <= 3) if mode == "serial" else "INFO"))

widths = [max(len(str(r[i])) for r in rows + [("figure", "measured", "comparator", "ratio", "result")]) for i in range(5)]
def fmt(r):
    return "  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r))
print(fmt(("figure", "measured", "comparator", "ratio", "result")))
print(fmt(tuple("-" * w for w in widths)))
for r in rows:
    print(fmt(r))

extra = []
for name in ("BM_ParseOnly", "BM_RiskFlagsOnly", "BM_TypoOnly"):
    b = core.get(name)
    if b:
        extra.append(f"{name[3:]} {to_ns(b, 'real_time'):.0f} ns")
if extra:
    print("core parts (median, real): " + ", ".join(extra))
if w and "invalid" in w:
    print(f"list as the core sees it: {w['valid']:.1%} valid, {w['invalid']:.1%} invalid, "
          f"{1 - w['valid'] - w['invalid']:.1%} risky, {w['suggested']:.1%} with a typo suggestion; "
          f"python email_validator accepts {int(py.get('valid', 0)) / size:.1%}" if size else "")
if sql.get("serial"):
    d = sql["serial"]
    print(f"SQL rows {d['rows']}: verify_email 'valid' {d['verify_valid']}, regex match {d['regex_match']}")
    for mode in ("serial", "parallel"):
        d = sql.get(mode)
        if d and d.get("scan_median_ms") not in (None, "nan"):
            v, r, sc = float(d["verify_median_ms"]), float(d["regex_median_ms"]), float(d["scan_median_ms"])
            print(f"SQL {mode}: unfiltered scan {sc:,.0f} ms; filter cost beyond the scan: verify {v - sc:,.0f} ms, "
                  f"regex {r - sc:,.0f} ms ({(v - sc) / (r - sc):.2f}x)")
if ctx:
    print(f"core_bench: {ctx.get('num_cpus')} cpus at {ctx.get('mhz_per_cpu')} MHz, "
          f"library_build_type={ctx.get('library_build_type')} (the Debian libbenchmark build; "
          f"the code under test is Release)")
print(f"medians: core over 5 repetitions, python over its passes, SQL over "
      f"{sql.get('serial', {}).get('rounds', '?')} alternating runs each")
print(f"wall time: {float(finished) - float(started):.0f} s")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log"
exit "$problems"
