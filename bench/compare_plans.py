#!/usr/bin/env python3
"""The plans of bench/run-compare-bench.sh's figure "plans", from the server log.

    bench/compare_plans.py SERVER_LOG OFFSET RESULTS

Reads SERVER_LOG from byte OFFSET: auto_explain entries (log_format json,
log_analyze on, log_nested_statements on) of sessions that marked their
sections with `LOG:  EV_CMP_PLANS case=<case> section=<claim|apply|end>
pid=<pid>`. Prints every statement's plan of each case (as EXPLAIN's text
form, with estimated costs and actual times), compares the plan shapes (node
types, relations, indexes, join types, the tree) of the same statement in
each case, and appends one line to RESULTS:

    WORKER_BENCH fig=plans verdict=same|different cases=... claim_statements=N ...
"""
import json
import re
import sys

log_path, offset, results = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head = re.compile(r"^\S.*?\[(\d+)\] (\w+):  (.*)$")

entries = []  # (pid, level, text)
with open(log_path, "rb") as f:
    f.seek(offset)
    for raw in f.read().decode("utf-8", "replace").splitlines():
        m = head.match(raw)
        if m:
            entries.append([int(m.group(1)), m.group(2), m.group(3)])
        elif raw.startswith("\t") and entries:
            entries[-1][2] += "\n" + raw[1:]

# case -> section -> [statement]; the last session of each case counts (the
# first warms the caches)
marker = re.compile(r"EV_CMP_PLANS case=(\S+) section=(\S+) pid=(\d+)")
where = {}  # pid -> (case, section)
sessions = {}  # case -> {pid: {section: [...]}}
for pid, level, text in entries:
    m = marker.search(text)
    if m and level == "LOG":
        case, section = m.group(1), m.group(2)
        where[pid] = (case, section)
        sessions.setdefault(case, {}).setdefault(pid, {})
        continue
    if level != "LOG" or not text.startswith("duration:") or pid not in where:
        continue
    case, section = where[pid]
    if section == "end":
        continue
    d = float(text.split()[1])
    body = text.split("plan:", 1)[1].strip()
    try:
        doc = json.loads(body)
    except ValueError:
        continue
    sessions[case][pid].setdefault(section, []).append({"ms": d, "query": doc.get("Query Text", ""), "plan": doc["Plan"]})

cases = {}
for case, by_pid in sessions.items():
    pids = [p for p in by_pid if by_pid[p]]
    if pids:
        cases[case] = by_pid[max(pids, key=lambda p: list(sessions[case]).index(p))]


AGG = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate", "Mixed": "MixedAggregate"}


def label(p):
    s = p["Node Type"]
    if s == "Aggregate":
        s = AGG.get(p.get("Strategy"), s)
    if p.get("Join Type"):
        s += f" ({p['Join Type']})"
    if "Scan Direction" in p and p["Scan Direction"] == "Backward":
        s += " Backward"
    if "Index Name" in p:
        s += f" using {p['Index Name']}"
    if "Relation Name" in p:
        s += f" on {p.get('Schema', '') + '.' if p.get('Schema') else ''}{p['Relation Name']}"
        if p.get("Alias") and p["Alias"] != p["Relation Name"]:
            s += f" {p['Alias']}"
    elif "Function Name" in p:
        s += f" on {p['Function Name']}"
    elif "CTE Name" in p:
        s += f" on {p['CTE Name']}"
    return s


def access(p, acc=None):
    """how each relation is read, in plan order: (scan node, relation, index, direction)"""
    acc = [] if acc is None else acc
    if "Relation Name" in p and "Scan" in p["Node Type"]:
        acc.append((p["Node Type"], p["Relation Name"], p.get("Index Name"), p.get("Scan Direction")))
    for c in p.get("Plans", []):
        access(c, acc)
    return acc


def nodes(p, acc=None):
    acc = [] if acc is None else acc
    acc.append(label(p))
    for c in p.get("Plans", []):
        nodes(c, acc)
    return acc


def shape(p):
    return (label(p), p.get("Parent Relationship"), p.get("Subplan Name"),
            tuple(shape(c) for c in p.get("Plans", [])))


def render(p, depth, out):
    pad = "  " * depth
    pre = "" if depth == 0 else "->  "
    sub = f"{pad}{p['Subplan Name']}\n" if p.get("Subplan Name") else ""
    act = ""
    if "Actual Total Time" in p:
        act = f" (actual time={p['Actual Startup Time']:.3f}..{p['Actual Total Time']:.3f} rows={p['Actual Rows']:.0f} loops={p['Actual Loops']})"
    elif p.get("Actual Loops") == 0:
        act = " (never executed)"
    out.append(f"{sub}{pad}{pre}{label(p)}  (cost={p['Startup Cost']:.2f}..{p['Total Cost']:.2f} rows={p['Plan Rows']:.0f}){act}")
    for k in ("Index Cond", "Recheck Cond", "Hash Cond", "Join Filter", "Filter"):
        if k in p:
            c = p[k] if len(p[k]) <= 160 else p[k][:150] + " ...)"
            out.append(f"{pad}      {k}: {c}")
    for c in p.get("Plans", []):
        render(c, depth + 1, out)


def one_line(q):
    return " ".join(q.split())[:110]


order = [c for c in ("empty", "full") if c in cases] + [c for c in cases if c not in ("empty", "full")]
for case in order:
    print(f"\n######## queue statistics: {case}")
    for section in ("claim", "apply"):
        stmts = cases[case].get(section, [])
        print(f"\n==== {section}: {len(stmts)} statements (auto_explain, nested), "
              f"{sum(s['ms'] for s in stmts[-1:]):.2f} ms the call")
        for i, s in enumerate(stmts, 1):
            print(f"\n-- {section} #{i}: {s['ms']:.3f} ms: {one_line(s['query'])}")
            out = []
            render(s["plan"], 0, out)
            print("\n".join(out))

verdict = "n/a"
parts = []
diffs = []
if "empty" in cases and "full" in cases:
    same = True
    same_access = True
    for section in ("claim", "apply"):
        a, b = cases["empty"].get(section, []), cases["full"].get(section, [])
        if len(a) != len(b):
            same = same_access = False
            diffs.append(f"{section}: {len(a)} vs {len(b)} statements")
        for i, (x, y) in enumerate(zip(a, b), 1):
            if shape(x["plan"]) != shape(y["plan"]):
                same = False
                if access(x["plan"]) != access(y["plan"]):
                    same_access = False
                na, nb = nodes(x["plan"]), nodes(y["plan"])
                only_a = [n for n in na if n not in nb] or ["(order)"]
                only_b = [n for n in nb if n not in na] or ["(order)"]
                diffs.append(f"{section} #{i} ({one_line(x['query'])[:40]}...): "
                             f"{', '.join(only_a)} (empty) -> {', '.join(only_b)} (full)")
        # the call itself: the last statement logged is the top-level one
        cost_a = sum(s["plan"]["Total Cost"] for s in a[:-1])
        cost_b = sum(s["plan"]["Total Cost"] for s in b[:-1])
        ms_a = a[-1]["ms"] if a else 0
        ms_b = b[-1]["ms"] if b else 0
        parts.append((section, len(a), len(b), ms_a, ms_b, cost_a, cost_b))
    verdict = "same" if same else "same_access_paths" if same_access else "different"
print()
print("plan shapes with the statistics of an empty queue vs of a full one (ANALYZEd): "
      + {"same": "SAME", "same_access_paths": "DIFFERENT NODES, SAME ACCESS PATHS (every relation read by the same "
         "scan, index and direction, in the same order)", "different": "DIFFERENT"}.get(verdict, verdict))
for d in diffs:
    print("  differs: " + d)
for section, na, nb, ma, mb, ca, cb in parts:
    print(f"  {section}: {na} / {nb} statements; the call {ma:.2f} / {mb:.2f} ms; "
          f"estimated cost of its statements {ca:,.0f} / {cb:,.0f} (empty / full)")
with open(results, "a") as f:
    f.write(f"WORKER_BENCH fig=plans verdict={verdict} "
            + " ".join(f"{s}_statements={na}/{nb} {s}_ms={ma:.2f}/{mb:.2f} {s}_est_cost={ca:.0f}/{cb:.0f}"
                       for s, na, nb, ma, mb, ca, cb in parts)
            + f" diffs={len(diffs)}\n")
