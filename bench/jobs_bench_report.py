#!/usr/bin/env python3
"""The measuring helpers and arithmetic of bench/run-jobs-bench.sh.

  jobs_bench_report.py smaps [--interval-ms 100] [--seconds S] [--stop-file F] PID...
      Samples Private_Clean + Private_Dirty of /proc/PID/smaps_rollup of each
      PID until the stop file appears (or S seconds); one line per PID:
      the first sample (baseline), the largest and when, the last.
  jobs_bench_report.py completion-latency LOG PATH JOBS
      LOG: receiver.js --log lines; JOBS: lines "job_id last_checked_at
      finished_at" (unix times). For each job, its first bulk.completed
      received on PATH, minus the job's last verdict (and minus finished_at).
  jobs_bench_report.py exactly-once LOG PATH T0 SUBMIT_SECONDS N
      The requests on PATH: bulk.completed per job, event ids sent more
      than once, signatures refused, the last one's time after T0.
  jobs_bench_report.py poll-count PORT PATH BEFORE TARGET TIMEOUT_S
      Polls the receiver's /_stats (one keep-alive connection, every 20 ms)
      until PATH has TARGET requests more than BEFORE; prints "first
      first_n last" (unix times; last 0 when the target was not reached).
  jobs_bench_report.py table RESULTS
      The summary table from the JOBS_BENCH lines the script collected.
"""
import argparse
import datetime
import http.client
import json
import math
import os
import statistics
import sys
import time


def kv(line):
    return dict(p.split("=", 1) for p in line.split() if "=" in p)


def pct(values, q):
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def private_kb(pid):
    """(Private_Clean + Private_Dirty, Anonymous) in kB. The first counts
    every page only this process maps, pages of the shared memory segment
    (shared_buffers) it alone has touched so far included; the second is its
    own heap and stack alone."""
    total = anon = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
            elif line.startswith("Anonymous:"):
                anon = int(line.split()[1])
    return total, anon


def smaps(argv):
    ap = argparse.ArgumentParser(prog="smaps")
    ap.add_argument("--interval-ms", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--stop-file")
    ap.add_argument("pids", nargs="+")
    a = ap.parse_args(argv)
    t0 = time.time()
    series = {p: [] for p in a.pids}
    while time.time() - t0 < a.seconds:
        if a.stop_file and os.path.exists(a.stop_file):
            break
        now = time.time() - t0
        for p in a.pids:
            try:
                series[p].append((now, *private_kb(p)))
            except OSError:
                pass
        time.sleep(a.interval_ms / 1000)
    for p, s in series.items():
        if not s:
            print(f"pid={p} samples=0")
            continue
        at, peak, _ = max(s, key=lambda x: x[1])
        anon_at, _, anon_peak = max(s, key=lambda x: x[2])
        gaps = [b[0] - a_[0] for a_, b in zip(s, s[1:])]
        print(f"pid={p} samples={len(s)} interval_ms_median={statistics.median(gaps) * 1000 if gaps else 0:.0f} "
              f"baseline_mb={s[0][1] / 1024:.1f} max_mb={peak / 1024:.1f} max_at_s={at:.1f} last_mb={s[-1][1] / 1024:.1f} "
              f"anon_baseline_mb={s[0][2] / 1024:.1f} anon_max_mb={anon_peak / 1024:.1f} anon_max_at_s={anon_at:.1f}")


def records(log, path):
    out = []
    with open(log, encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("path") != path:
                continue
            r["t"] = datetime.datetime.fromisoformat(r["received_at"].replace("Z", "+00:00")).timestamp()
            try:
                r["json"] = json.loads(r.get("body") or "{}")
            except ValueError:
                r["json"] = {}
            out.append(r)
    return out


def completion_latency(log, path, jobs_file):
    received = {}
    for r in records(log, path):
        if r["json"].get("event_type") == "bulk.completed" and r.get("status") == 200:
            job = int(r["json"]["job_id"])
            received[job] = min(received.get(job, r["t"]), r["t"])
    from_verdict, from_finished, missing = [], [], 0
    for line in open(jobs_file):
        parts = line.split()
        if len(parts) < 3:
            continue
        job, checked, finished = int(parts[0]), float(parts[1]), float(parts[2])
        if job not in received:
            missing += 1
            continue
        from_verdict.append(received[job] - checked)
        from_finished.append(received[job] - finished)
    if not from_verdict:
        print(f"JOBS_BENCH fig=3 kind=completion_latency jobs=0 missing={missing}")
        return
    print(f"JOBS_BENCH fig=3 kind=completion_latency jobs={len(from_verdict)} missing={missing} "
          f"p50={pct(from_verdict, 0.5):.3f} p95={pct(from_verdict, 0.95):.3f} max={max(from_verdict):.3f} "
          f"finished_p50={pct(from_finished, 0.5):.3f} finished_p95={pct(from_finished, 0.95):.3f} "
          f"finished_max={max(from_finished):.3f}")


def exactly_once(log, path, t0, submit_seconds, n):
    rs = records(log, path)
    per_event, per_job = {}, {}
    refused = 0
    for r in rs:
        per_event[r["event_id"]] = per_event.get(r["event_id"], 0) + 1
        if r["json"].get("event_type") == "bulk.completed":
            job = r["json"].get("job_id")
            per_job[job] = per_job.get(job, 0) + 1
        if not (r.get("standard_ok") and r.get("stripe_ok")):
            refused += 1
    last = max((r["t"] for r in rs), default=float(t0)) - float(t0)
    types = {}
    for r in rs:
        types[r["json"].get("event_type")] = types.get(r["json"].get("event_type"), 0) + 1
    print(f"JOBS_BENCH fig=3 kind=exactly_once jobs={n} requests={len(rs)} events={len(per_event)} "
          f"completed_jobs={len(per_job)} jobs_twice={sum(1 for c in per_job.values() if c > 1)} "
          f"events_twice={sum(1 for c in per_event.values() if c > 1)} signatures_refused={refused} "
          f"submit_s={float(submit_seconds):.3f} last_after_first_submit_s={last:.3f} "
          f"types={','.join(f'{k}:{v}' for k, v in sorted(types.items(), key=str))}")


def poll_count(port, path, before, target, timeout_s):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    deadline = time.time() + float(timeout_s)
    first = first_n = 0
    last = 0.0
    while time.time() < deadline:
        conn.request("GET", "/_stats")
        stats = json.loads(conn.getresponse().read())
        n = stats["per_path"].get(path, 0) - int(before)
        now = time.time()
        if not first and n > 0:
            first, first_n = now, n
        if n >= int(target):
            last = now
            break
        time.sleep(0.02)
    print(f"{first:.3f} {first_n} {last:.3f}")


def med(values):
    return statistics.median(values) if values else float("nan")


def table(path):
    lines = [kv(ln) for ln in open(path, encoding="utf-8") if ln.startswith("JOBS_BENCH ")]
    rows = []
    verdict = lambda ok: "PASS" if ok else "FAIL"

    def of(**want):
        return [d for d in lines if all(d.get(k) == v for k, v in want.items())]

    # 1
    for w in ("1", "2"):
        jobs = [float(d["seconds"]) for d in of(fig="1", kind="job", workers=w) if d.get("state") == "completed"]
        calls = [float(d["seconds"]) for d in of(fig="1", kind="verify_emails", workers=w)]
        if jobs and calls:
            ratio = med(jobs) / med(calls)
            rows.append((f"1 100k dns job, submit to finished_at, workers={w}",
                         f"{med(jobs):.2f} s (runs {', '.join(f'{x:.1f}' for x in jobs)})",
                         f"verify_emails {med(calls):.2f} s (runs {', '.join(f'{x:.1f}' for x in calls)})",
                         f"{ratio:.2f}x", "<= 1.5x", verdict(ratio <= 1.5)))
        elif of(fig="1"):
            rows.append((f"1 100k dns job, workers={w}", "n/a", "", "", "<= 1.5x", "ERROR"))

    # 2
    sub = of(fig="2", kind="submit_from_query")
    if sub:
        s = float(sub[-1]["seconds"])
        rows.append(("2 submit_job_from_query, 1M rows", f"{s:.2f} s", "", f"{s / 10:.2f}x of target", "< 10 s",
                     verdict(s < 10)))
        mem = of(fig="2", kind="smaps")
        job = of(fig="2", kind="job")
        drained = job and job[-1].get("state") == "completed"
        if mem:
            peak = max(float(d.get("max_mb", "nan")) for d in mem)
            base = min(float(d.get("baseline_mb", "nan")) for d in mem)
            anon = max(float(d.get("anon_max_mb", "nan")) for d in mem)
            rows.append(("2 worker private memory while draining (max)", f"{peak:.1f} MB (Anonymous {anon:.1f} MB)",
                         f"at start {base:.1f} MB; drain {job[-1].get('seconds', '?') if job else '?'} s, "
                         f"{job[-1].get('processed', '?') if job else '?'} processed", f"{peak / 64:.2f}x of target",
                         "< 64 MB", verdict(peak < 64 and drained)))

    # 3
    lat = of(fig="3", kind="completion_latency")
    if lat and lat[-1].get("jobs", "0") != "0":
        d = lat[-1]
        p95 = float(d["p95"])
        rows.append(("3 bulk.completed after the last verdict, p95 of 20", f"{p95:.3f} s (p50 {d['p50']}, max {d['max']})",
                     f"from finished_at: p95 {d['finished_p95']}", "", "<= 1 s",
                     verdict(p95 <= 1 and d["missing"] == "0")))
    once = of(fig="3", kind="exactly_once")
    if once:
        d = once[-1]
        last = float(d["last_after_first_submit_s"])
        ok = (d["completed_jobs"] == "1000" and d["jobs_twice"] == "0" and d["events_twice"] == "0"
              and d["signatures_refused"] == "0" and last <= 15)
        rows.append(("3 1,000 one-address jobs: last webhook after the first submit",
                     f"{last:.2f} s ({d['completed_jobs']} jobs, {d['events']} events, twice {d['events_twice']})",
                     f"submitting took {d['submit_s']} s", "", "<= 15 s, each once", verdict(ok)))

    # 4
    deliv = [d for d in of(fig="4", kind="delivery") if d.get("seconds") not in (None, "NULL")]
    ceil = [float(d["per_s"]) for d in of(fig="4", kind="ceiling")]
    if deliv:
        rates = [10000 / float(d["seconds"]) for d in deliv if float(d["seconds"]) > 0]
        r, c = med(rates), med(ceil)
        rows.append(("4 10,000 queued events delivered", f"{r:.0f}/s (runs {', '.join(f'{x:.0f}' for x in rates)})",
                     f"receiver ceiling (wrk, 16 conns) {c:.0f}/s", f"{r / c:.2f}x of ceiling",
                     ">= 1000/s", verdict(r >= 1000)))
    elif of(fig="4"):
        rows.append(("4 10,000 queued events delivered", "n/a (not all delivered in 60 s)", "", "", ">= 1000/s", "FAIL"))

    # 5
    busy = [float(d["p95"]) for d in of(fig="5", kind="watched", variant="job_draining")]
    idle = [float(d["p95"]) for d in of(fig="5", kind="watched", variant="no_job")]
    if busy and idle:
        rows.append(("5 watched row verdict p95, 100k dns job draining", f"{med(busy):.3f} s (runs {busy})",
                     f"no job: {med(idle):.3f} s", f"{med(busy) / max(med(idle), 1e-3):.1f}x", "< 2 s",
                     verdict(med(busy) < 2)))
        rows.append(("5 watched row verdict p95, no job", f"{med(idle):.3f} s (runs {idle})", "", "", "< 0.5 s",
                     verdict(med(idle) < 0.5)))

    widths = [max(len(str(r[i])) for r in rows + [("figure", "measured", "comparator", "ratio", "target", "")])
              for i in range(6)]
    head = ("figure", "measured", "comparator", "ratio", "target", "")
    for r in [head] + rows:
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip())


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "smaps":
        smaps(args)
    elif cmd == "completion-latency":
        completion_latency(*args)
    elif cmd == "exactly-once":
        exactly_once(args[0], args[1], args[2], args[3], int(args[4]))
    elif cmd == "poll-count":
        poll_count(*args)
    elif cmd == "table":
        table(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
