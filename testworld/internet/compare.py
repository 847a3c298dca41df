#!/usr/bin/env python3
"""Compares verdicts with the internet world's ground truth.

Usage: compare.py --world DIR [--verdicts FILE|-] [--sample N --seed S]
  --verdicts: lines "address<TAB or comma>status<sep>reason..." (ev_probe's
              output, or a CSV exported from job_results); "-" is stdin.
  --sample N: instead, print N addresses to probe: an even share of every
              behaviour (first come in truth.csv order of its domains).

What "equal to the ground truth" means (README-section.md):
  match     status and reason equal truth.csv's.
  pending   a greylisting domain's mailbox answered unknown/greylisted: the
            first pass is right to say so; only the retry (after the
            simulator's grey delay) must reach truth.csv's valid/accepted.
  mismatch  anything else. For banner421, tarpit and dead hosts the truth
            is the unknown verdict itself (temporary_failure, timeout,
            connection_failed): those hosts never answer otherwise.
Exit status 0 when nothing mismatched (pending allowed), 1 otherwise.
"""
import argparse
import collections
import csv
import os
import random
import sys

MAX_EXAMPLES = 5


def load_behaviours(world):
    with open(os.path.join(world, "domains.csv"), encoding="utf-8") as f:
        return {row["domain"]: row["behaviour"] for row in csv.DictReader(f)}


def sample(world, n, seed):
    behaviours = load_behaviours(world)
    by_behaviour = collections.defaultdict(list)
    with open(os.path.join(world, "truth.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_behaviour[behaviours[row["address"].rpartition("@")[2]]].append(row["address"])
    rng = random.Random(seed)
    share = max(1, n // len(by_behaviour))
    picked = []
    for name in sorted(by_behaviour):
        # Tarpits cost 15 s and more each: a few are enough.
        k = min(3, share) if name == "tarpit" else share
        picked += rng.sample(by_behaviour[name], min(k, len(by_behaviour[name])))
    rng.shuffle(picked)
    print("\n".join(picked))


def compare(world, lines):
    behaviours = load_behaviours(world)
    verdicts = {}
    for line in lines:
        parts = line.rstrip("\n").replace(",", "\t").split("\t")
        if len(parts) >= 3 and "@" in parts[0]:
            verdicts[parts[0].strip().lower()] = (parts[1], parts[2])
    counts = collections.defaultdict(collections.Counter)
    examples = []
    with open(os.path.join(world, "truth.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            got = verdicts.pop(row["address"], None)
            if got is None:
                continue
            behaviour = behaviours[row["address"].rpartition("@")[2]]
            want = (row["status"], row["reason"])
            if got == want:
                kind = "match"
            elif behaviour == "greylisting" and got == ("unknown", "greylisted") and want[0] == "valid":
                kind = "pending"
            else:
                kind = "mismatch"
                if len(examples) < MAX_EXAMPLES * 4:
                    examples.append(f"{row['address']} ({behaviour}): got {got[0]}/{got[1]}, "
                                    f"truth {want[0]}/{want[1]}")
            counts[behaviour][kind] += 1
    total = collections.Counter()
    for name in sorted(counts):
        c = counts[name]
        total.update(c)
        print(f"{name:15} match {c['match']:6}  pending {c['pending']:5}  mismatch {c['mismatch']:5}")
    print(f"{'all':15} match {total['match']:6}  pending {total['pending']:5}  mismatch {total['mismatch']:5}")
    if verdicts:
        print(f"{len(verdicts)} verdicts for addresses not in the world (ignored)")
    for e in examples:
        print("mismatch:", e)
    return 1 if total["mismatch"] else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", required=True)
    ap.add_argument("--verdicts")
    ap.add_argument("--sample", type=int)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.sample:
        return sample(args.world, args.sample, args.seed)
    if not args.verdicts:
        sys.exit("--verdicts or --sample is needed")
    if args.verdicts == "-":
        return compare(args.world, sys.stdin)
    with open(args.verdicts, encoding="utf-8") as f:
        return compare(args.world, f)


if __name__ == "__main__":
    sys.exit(main())
