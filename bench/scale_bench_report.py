#!/usr/bin/env python3
"""Helpers of bench/run-scale-bench.sh (the million-address benchmark
through the internet world).

  scale_bench_report.py ctl HOST:PORT COMMAND   the simulator's control port
      (run inside the namespace): STATS prints its JSON, RESET its OK.
  scale_bench_report.py run-line STATS_JSON COMPARE_OUT SMAPS_OUT KEY=VALUE...
      one SCALE_BENCH line of a run: the given fields, then the simulator's
      maxima, compare.py's counts and the probers' peak private memory.
  scale_bench_report.py table RESULTS
      the summary: figure, measured, target, PASS/FAIL (INFO: no target).
  scale_bench_report.py tail DOMAINS_CSV TIMES
      when the verdicts came, by the world's behaviour of their domains
      (TIMES: email, status, reason, seconds after the start, job or
      table): the median, the 99th percentile and the last; and the last
      ten verdicts of the run.
"""
import collections
import csv
import json
import re
import socket
import sys

SESSIONS_PER_HOST = 2
RCPTS_PER_HOST_MIN = 120
SESSIONS_IN_ALL = 2000
WALL_1M_S = 600
PROBER_MB = 128


def ctl(hostport, command):
    host, _, port = hostport.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    print(data.decode().strip())


def run_line(stats_file, compare_file, smaps_file, fields):
    out = dict(f.split("=", 1) for f in fields)
    try:
        with open(stats_file, encoding="utf-8") as f:
            stats = json.load(f)
        w = stats["worst_host"]
        out.update(host_open_max=w["max_open"][0], host_open_ip=w["max_open"][1],
                   host_rcpts_min_max=w["max_rcpts_per_min"][0], host_rcpts_ip=w["max_rcpts_per_min"][1],
                   host_sessions_min_max=w["max_sessions_per_min"][0],
                   sessions_open_max=stats["max_sessions_open"], sim_sessions=stats["sessions_total"],
                   sim_rcpts=stats["rcpts_total"], sim_replies_peak_s=stats["replies_peak_s"])
    except (OSError, ValueError, KeyError) as e:
        out["stats_error"] = type(e).__name__
    with open(compare_file, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"all\s+match\s+(\d+)\s+pending\s+(\d+)\s+mismatch\s+(\d+)", line)
            if m:
                out.update(match=m[1], pending=m[2], mismatch=m[3])
    peaks = []
    with open(smaps_file, encoding="utf-8") as f:
        for line in f:
            m = re.search(r"max_mb=([\d.]+)", line)
            if m:
                peaks.append(float(m[1]))
    out["prober_mb_max"] = f"{max(peaks):.1f}" if peaks else "none"
    print("SCALE_BENCH " + " ".join(f"{k}={v}" for k, v in out.items()))


def verdict(ok):
    return "PASS" if ok else "FAIL"


def table(results):
    runs = []
    with open(results, encoding="utf-8") as f:
        for line in f:
            if line.startswith("SCALE_BENCH "):
                runs.append(dict(p.split("=", 1) for p in line.split()[1:] if "=" in p))
    rows = []
    per_s = {}
    for r in runs:
        n, k = int(r["n"]), int(r["k"])
        tag = f"{n:,} addresses, {k} prober{'s' if k > 1 else ''} + worker"
        num = lambda key, default=-1: float(r.get(key, default)) if r.get(key, "none") != "none" else default  # noqa: E731
        wrong = int(r.get("mismatch", -1)) + int(r.get("pending", 0)) + int(r.get("missing", 0))
        if r.get("complete") != "1":
            rows.append((tag, "drained", f"no: {r.get('left', '?')} left after {r.get('wall_s')} s", "all", "FAIL"))
        rows.append((tag, "verdicts not equal to the truth (mismatch + pending + missing)",
                     f"{r.get('mismatch')} + {r.get('pending')} + {r.get('missing')}", "0",
                     verdict(wrong == 0 and "mismatch" in r)))
        rows.append((tag, "max sessions open to one MX host", f"{r.get('host_open_max')} ({r.get('host_open_ip')})",
                     f"<= {SESSIONS_PER_HOST}", verdict(0 <= num("host_open_max") <= SESSIONS_PER_HOST)))
        rows.append((tag, "max RCPTs to one MX host in 60 s", f"{r.get('host_rcpts_min_max')} ({r.get('host_rcpts_ip')})",
                     f"<= {RCPTS_PER_HOST_MIN}", verdict(0 <= num("host_rcpts_min_max") <= RCPTS_PER_HOST_MIN)))
        rows.append((tag, "max sessions open in all", r.get("sessions_open_max"), f"<= {SESSIONS_IN_ALL}",
                     verdict(0 <= num("sessions_open_max") <= SESSIONS_IN_ALL)))
        rows.append((tag, "probers' private memory, max (MB)", r.get("prober_mb_max"), f"< {PROBER_MB}",
                     verdict(0 <= num("prober_mb_max") < PROBER_MB)))
        wall = num("wall_s")
        if n >= 1000000:
            rows.append((tag, "wall time to the last verdict (s)", f"{wall:.0f}", f"<= {WALL_1M_S}",
                         verdict(0 <= wall <= WALL_1M_S and r.get("complete") == "1")))
        else:
            rows.append((tag, "wall time to the last verdict (s)", f"{wall:.0f}", "-", "INFO"))
        rows.append((tag, "throughput (addresses/s)", r.get("per_s"), "-", "INFO"))
        per_s[(n, k)] = num("per_s")
    # Scaling and cost growth, from the runs there are.
    for n in sorted({n for n, _ in per_s}):
        if (n, 1) in per_s and (n, 2) in per_s and per_s[(n, 1)] > 0:
            rows.append((f"{n:,} addresses", "scaling: throughput with 2 probers / with 1",
                         f"{per_s[(n, 2)] / per_s[(n, 1)]:.2f}x", "-", "INFO"))
    two = sorted((n, v) for (n, k), v in per_s.items() if k == 2)
    if len(two) > 1 and two[0][1] > 0:
        rows.append(("2 probers + worker", "cost growth: throughput at each size / at the smallest",
                     ", ".join(f"{n // 1000}k {v / two[0][1]:.2f}x" for n, v in two), "-", "INFO"))
    widths = [max(len(str(row[i])) for row in rows + [("run", "figure", "measured", "target", "")]) for i in range(5)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    print(fmt.format("run", "figure", "measured", "target", ""))
    for row in rows:
        print(fmt.format(*[str(c) for c in row]))


def tail(domains_csv, times_file):
    with open(domains_csv, encoding="utf-8") as f:
        behaviours = {row["domain"]: row["behaviour"] for row in csv.DictReader(f)}
    by_behaviour = collections.defaultdict(list)
    rows = []
    with open(times_file, encoding="utf-8") as f:
        for line in f:
            email, status, reason, seconds, kind = line.rstrip("\n").split("\t")[:5]
            behaviour = behaviours.get(email.rpartition("@")[2].lower(), "?")
            by_behaviour[f"{kind} {behaviour}"].append(float(seconds))
            rows.append((float(seconds), behaviour, email, status, reason, kind))
    if not rows:
        return 0
    print("when the verdicts came (seconds after the start):")
    print(f"  {'kind, behaviour':<22} {'verdicts':>9} {'median':>8} {'p99':>8} {'last':>8}")
    for name in sorted(by_behaviour, key=lambda b: max(by_behaviour[b])):
        times = sorted(by_behaviour[name])
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"  {name:<22} {len(times):>9} {times[len(times) // 2]:>8.1f} {p99:>8.1f} {times[-1]:>8.1f}")
    rows.sort()
    print("the last ten:")
    for seconds, behaviour, email, status, reason, kind in rows[-10:]:
        print(f"  {seconds:8.1f}  {kind:<5} {behaviour:<14} {status}/{reason}  {email}")
    return 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "ctl":
        return ctl(sys.argv[2], sys.argv[3])
    if len(sys.argv) >= 5 and sys.argv[1] == "run-line":
        return run_line(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    if len(sys.argv) == 3 and sys.argv[1] == "table":
        return table(sys.argv[2])
    if len(sys.argv) == 4 and sys.argv[1] == "tail":
        return tail(sys.argv[2], sys.argv[3])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
