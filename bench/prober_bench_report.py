#!/usr/bin/env python3
"""The arithmetic of bench/run-prober-bench.sh.

  prober_bench_report.py rcpt-rate LOG BEHAVIOUR T_START T_END PER_MINUTE
      The RCPTs of BEHAVIOUR that the private scripted server logged
      (bench/private_scripted.py) between two unix times: their rate over
      the 60 s window from the first one, the steady rate between the first
      and the last, and the most RCPTs in any 1 s and any 0.1 s window
      (sliding, half-open, at every RCPT). Prints one RCPT_RATE line.
  prober_bench_report.py table RESULTS
      The summary table from the result lines the script collected.
"""
import bisect
import re
import statistics
import sys


def kv(line):
    return dict(p.split("=", 1) for p in line.split() if "=" in p)


def max_in_window(ts, width):
    """Most timestamps in any [t, t + width) starting at a timestamp."""
    best = 0
    for i, t in enumerate(ts):
        best = max(best, bisect.bisect_left(ts, t + width) - i)
    return best


def rcpt_rate(log, behaviour, t_start, t_end, per_minute):
    t_start, t_end, per_minute = float(t_start), float(t_end), int(per_minute)
    ts = []
    spans = {}  # backend -> [first, last, count], from the local parts f<fig>s<backend>x<k>
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1] == behaviour:
                t = float(parts[0])
                if t_start <= t <= t_end:
                    ts.append(t)
                    m = re.match(r"f\d+s(\d+)x", parts[2] if len(parts) > 2 else "")
                    if m:
                        span = spans.setdefault(int(m.group(1)), [t, t, 0])
                        span[0], span[1], span[2] = min(span[0], t), max(span[1], t), span[2] + 1
    ts.sort()
    if len(ts) < 2:
        print(f"RCPT_RATE n={len(ts)} error=too_few")
        return
    first, last = ts[0], ts[-1]
    window = bisect.bisect_left(ts, first + 60.0)  # RCPTs in [first, first + 60 s)
    steady = ts[bisect.bisect_left(ts, first + 2.0):]  # after the opening burst
    burst = max(1, per_minute // 60)
    print(f"RCPT_RATE n={len(ts)} span_s={last - first:.2f} window_complete={int(last >= first + 60.0)} "
          f"window_60s={window} steady_per_min={(len(ts) - 1) * 60.0 / (last - first):.1f} "
          f"max_1s={max_in_window(ts, 1.0)} max_1s_after_2s={max_in_window(steady, 1.0) if steady else 0} "
          f"max_100ms={max_in_window(ts, 0.1)} burst={burst} per_minute={per_minute} "
          f"backends={','.join(f'{b}:{v[2]}@{v[0] - first:.1f}-{v[1] - first:.1f}s' for b, v in sorted(spans.items())) or '-'}")


def table(path):
    lines = [ln.strip() for ln in open(path, encoding="utf-8")]
    by = lambda prefix: [kv(ln) for ln in lines if ln.startswith(prefix)]
    rows = []
    verdict = lambda ok: "PASS" if ok else "FAIL"

    # 1
    sampler = by("FIG1_SAMPLER ")
    sessions = [d for d in by("PROBER_BENCH ") if d.get("fig") == "1"]
    worker = by("FIG1_WORKER ")
    slots = by("FIG1_SLOTS ")
    if sampler and worker:
        s, w = sampler[-1], worker[-1]
        cap = int(s["cap"])
        seen = max(int(s["max_current"]), int(s["max_tcp"]), int(s["max_concurrent"]))
        right = sum(int(d["right"]) for d in sessions) + int(w["right"])
        total = sum(int(d["total"]) for d in sessions) + int(w["rows"])
        deferred = sum(int(d["deferred"]) for d in sessions)
        ok = 1 <= seen <= cap and right == total and len(sessions) == 16 and slots and slots[-1]["open_after"] == "0"
        rows.append(("1 connections at one MX host, 16 sessions + 2 workers",
                     f"max {seen} (server count {s['max_current']}, kernel {s['max_tcp']}, server exact max {s['max_concurrent']})",
                     f"max_connections_per_host {cap}", f"{s['samples']} samples every {s['interval_ms_median']} ms",
                     f"<= {cap}", verdict(ok)))
        rows.append(("1 verdicts right (16 x sessions + worker rows)", f"{right} of {total} (deferred {deferred})",
                     f"{s['connections']} connections, {s['rcpt']} RCPTs", "", "all right",
                     verdict(right == total)))
    else:
        rows.append(("1 connections at one MX host", "n/a", "", "", "", "ERROR"))

    # 2
    rate = by("RCPT_RATE ")
    if rate and "window_60s" in rate[-1]:
        r = rate[-1]
        per_min = int(r["per_minute"])
        burst = int(r["burst"])
        measured = int(r["window_60s"])
        ratio = measured / per_min
        ok_rate = abs(ratio - 1) <= 0.10 and r["window_complete"] == "1"
        rows.append(("2 RCPTs per site in the 60 s from the first", f"{measured}/min ({r['n']} in {r['span_s']} s)",
                     f"host_rcpt_rate {per_min}/min", f"{ratio:.3f}x", "within +-10%", verdict(ok_rate)))
        rows.append(("2 the same, first to last RCPT", f"{float(r['steady_per_min']):.1f}/min", f"{per_min}/min",
                     f"{float(r['steady_per_min']) / per_min:.3f}x", "(info)", "INFO"))
        bound = per_min // 60 + burst
        rows.append(("2 most RCPTs in any 1 s window", f"{r['max_1s']} (after the first 2 s: {r['max_1s_after_2s']})",
                     f"rate x 1 s + bucket = {bound}", "", f"<= {bound}", verdict(int(r["max_1s"]) <= bound)))
        rows.append(("2 most RCPTs in any 0.1 s window", r["max_100ms"], f"bucket {burst} + 1",
                     "", f"<= {burst + 1}", verdict(int(r["max_100ms"]) <= burst + 1)))
        s2 = [d for d in by("PROBER_BENCH ") if d.get("fig") == "2"]
        right = sum(int(d["right"]) for d in s2)
        total = sum(int(d["total"]) for d in s2)
        deferred = sum(int(d["deferred"]) for d in s2)
        rows.append(("2 verdicts right", f"{right} of {total} (deferred {deferred})", f"{len(s2)} backends", "",
                     "all right", verdict(total > 0 and right == total)))
        secs = sorted(float(d["seconds"]) for d in s2)
        if secs:
            rows.append(("2 each backend's verify_emails call", f"{secs[0]:.1f} to {secs[-1]:.1f} s",
                         "RCPTs@first-last s: " + r.get("backends", "-"), "", "(info: the budget's split)", "INFO"))
    else:
        rows.append(("2 RCPT rate per site", "n/a", "", "", "", "ERROR"))

    # 3
    f3 = [d for d in by("PROBER_BENCH ") if d.get("fig") == "3" and d.get("phase") == "read"]
    if f3:
        d = f3[-1]
        med, syn = float(d["smtp_median_ms"]), float(d["syntax_median_ms"])
        ok = med < 0.1 and d["from_cache"] == d["calls"] and d["right"] == d["calls"]
        extra = by("FIG3_SERVER ")
        rcpts = extra[-1]["rcpt_during_read"] if extra else "?"
        rows.append(("3 verdict of backend A read in backend B", f"{med:.4f} ms median (p90 {d['smtp_p90_ms']})",
                     f"syntax {syn:.4f} ms", f"{med / syn:.2f}x" if syn > 0 else "",
                     "< 0.1 ms, all from_cache", verdict(ok)))
        rows.append(("3 B's calls from the shared cache", f"{d['from_cache']} of {d['calls']} from_cache, {d['right']} right",
                     f"shared hits +{d['shared_hits']}, RCPTs at the host {rcpts}", "", "all, 0 RCPTs",
                     verdict(d["from_cache"] == d["calls"] and rcpts == "0")))
    else:
        rows.append(("3 shared cache read", "n/a", "", "", "", "ERROR"))

    # 4
    eng = [d for d in by("PROBE_BENCH ") if d.get("fig") == "1" and d.get("run") != "0"]
    wire = [d for d in by("WIRE_LIMIT ") if d.get("complete") == "1"]
    if eng and wire:
        e = statistics.median(int(d["n"]) / float(d["seconds"]) for d in eng)
        w = statistics.median(float(d["rcpt_per_s"]) for d in wire)
        wrong = max(int(d["wrong"]) for d in eng)
        rows.append(("4 verify_emails 10k, rates 0, vs the wire limit", f"{e:,.0f} verdicts/s ({len(eng)} runs)",
                     f"wire {w:,.0f} RCPT/s ({wire[0]['conns']} conns)", f"{e / w:.3f}x", ">= 0.80x, 0 wrong",
                     verdict(e / w >= 0.8 and wrong == 0)))
        conns = [int(d["max_tcp"]) for d in by("FIG4_SAMPLER ")]
        sessions = statistics.median(int(d["sessions"]) for d in eng)
        rows.append(("4 sessions per batch / most open to Postfix's address", f"{sessions:.0f} / {max(conns, default=-1)}",
                     f"max_connections_per_host {eng[0]['max_per_host']} per site (100 sites)", "", "(info)", "INFO"))
    else:
        rows.append(("4 verify_emails 10k vs the wire limit", "n/a", "", "", "", "ERROR"))

    # 5
    blocked = by("HEALTH_BLOCKED ")
    recovered = by("HEALTH_RECOVERED ")
    if blocked:
        b = blocked[-1]
        ok = b["state"] == "blocked" and float(b["after_s"]) < 30 and b["max_attempts"] == "0" and b["verdicts"] == "0"
        rows.append(("5 port unreachable -> prober_health blocked", f"{float(b['after_s']):.1f} s after the rows",
                     f"max(attempts) {b['max_attempts']}, verdicts {b['verdicts']}", "", "< 30 s, 0 attempts",
                     verdict(ok)))
    else:
        rows.append(("5 port unreachable -> blocked", "n/a", "", "", "", "ERROR"))
    if recovered:
        r = recovered[-1]
        limit = float(r["interval_s"]) + float(r["allowance_s"])
        ok = r["state"] == "ok" and float(r["after_s"]) <= limit
        rows.append(("5 reachable again -> ok", f"{float(r['after_s']):.1f} s", f"check period {r['interval_s']} s", "",
                     f"<= {limit:g} s (period + naptime + probe)", verdict(ok)))
        rows.append(("5 rows verified after recovery", f"{r['verified']} of {r['rows']}",
                     f"connection_failed {r['connection_failed']}", "", "all, none failed",
                     verdict(r["verified"] == r["rows"] and r["connection_failed"] == "0")))

    head = ("figure", "measured", "comparator / limit (same run)", "ratio", "target", "result")
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(6)]
    fmt = lambda x: "  ".join(str(c).ljust(widths[i]) for i, c in enumerate(x)).rstrip()
    print(fmt(head))
    print(fmt(tuple("-" * w for w in widths)))
    for x in rows:
        print(fmt(x))
    for d in eng:
        print(f"  fig 4 run {d['run']}: {int(d['n']) / float(d['seconds']):,.0f}/s ({d['seconds']} s), wrong {d['wrong']}, "
              f"sessions {d['sessions']}, max/host {d['max_per_host']}")
    for d in by("WIRE_LIMIT "):
        print(f"  wire run {d['run']}: {float(d['rcpt_per_s']):,.0f} RCPT/s ({d['seconds']} s, {d['conns']} conns, "
              f"complete={d['complete']})")
    return 0


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "rcpt-rate":
        rcpt_rate(*sys.argv[2:])
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "table":
        return table(sys.argv[2])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
