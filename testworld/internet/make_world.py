#!/usr/bin/env python3
"""Generates the internet-shaped benchmark world (deterministic for a seed).

Usage: make_world.py --out DIR [--domains 10000] [--addresses 1000000] [--seed 1]

Domain i is d<i>.inet.test (d00000 ...). Its mail host, when it has one, is
mx.d<i>.inet.test at 127.64.0.0 + i (127.64.0.0/18: 16,384 addresses, clear
of the shared test world's 127.0.x.y), except dead hosts, which sit at
198.18.0.0 + i: run.sh routes 198.18.0.0/15 (RFC 2544's benchmark range)
as "unreachable" inside the namespace, so a connect fails at once with
EHOSTUNREACH, as behind a router whose host is down. A dead host cannot be
a loopback address there: smtp_sim listens on 0.0.0.0:25, which answers
for the whole of 127/8.

Each MX host name is under its own domain on purpose: the prober's
politeness budget is per site (the sorted MX names of a domain), so one
shared MX name would make the 10,000 domains one site.

Writes into DIR:
  hosts.tsv      ip, domain, behaviour, mailboxes (comma-separated): smtp_sim's table
  domains.csv    domain,behaviour,mx_ip: what each domain is, for reports
  inet.zone.conf unbound local-zone/local-data for inet.test.
  addresses.txt  the addresses to verify, one a line, shuffled (rare duplicates)
  truth.csv      address,status,reason: one row per distinct address
  world.json     the parameters and the counts per behaviour
"""
import argparse
import csv
import ipaddress
import json
import os
import random
import sys

LIVE_BASE = ipaddress.IPv4Address("127.64.0.0")
DEAD_BASE = ipaddress.IPv4Address("198.18.0.0")
MAX_DOMAINS = 16384  # the /18

# Share of domains per behaviour, in percent (exact counts, see shares()).
MIX = [
    ("accepting", 56),       # known mailboxes 250, others 550 5.1.1
    ("implicit_mx", 2),      # no MX, an A record: RFC 5321's implicit MX; accepting
    ("catch_all", 12),       # every RCPT 250
    ("greylisting", 8),      # known mailbox: 450 4.7.1 first, 250 after GREY_DELAY s
    ("banner421", 3),        # 421 greeting, then close
    ("tarpit", 1),           # every reply after 30 s (beyond the prober's 15 s)
    ("dead", 3),             # unreachable address: connect fails at once
    ("nxdomain", 10),        # the name does not exist
    ("no_mail_server", 3),   # the name exists (a TXT record), no MX, no A
    ("null_mx", 2),          # "MX 0 ." (RFC 7505)
]
MAILBOX_BEHAVIOURS = {"accepting", "implicit_mx", "greylisting"}
EXISTING_SHARE = 0.70       # of the addresses at domains with mailboxes
UNUSED_MAILBOXES = 0.25     # mailboxes nobody asks about, per asked-about one
DUPLICATE_SHARE = 0.002     # addresses listed twice ("duplicates rare")
WEIGHT_CAP = 8.0            # the busiest domain gets at most ~8x the mean

# The final truth of an address, by behaviour and whether the mailbox exists
# (the product's status/reason words). Greylisted mailboxes are valid once
# the retry gets through; the first pass says unknown/greylisted.
TRUTH = {
    ("accepting", True): ("valid", "accepted"),
    ("accepting", False): ("invalid", "mailbox_not_found"),
    ("implicit_mx", True): ("valid", "accepted"),
    ("implicit_mx", False): ("invalid", "mailbox_not_found"),
    ("greylisting", True): ("valid", "accepted"),
    ("greylisting", False): ("invalid", "mailbox_not_found"),
    ("catch_all", None): ("risky", "catch_all"),
    ("banner421", None): ("unknown", "temporary_failure"),
    ("tarpit", None): ("unknown", "timeout"),
    ("dead", None): ("unknown", "connection_failed"),
    ("nxdomain", None): ("invalid", "no_domain"),
    ("no_mail_server", None): ("invalid", "no_mail_server"),
    ("null_mx", None): ("invalid", "null_mx"),
}

FIRST = ("anna ben carla david emma felix greta hugo ida jonas karin lars mia nils olga "
         "paul quinn rosa sven tina ulf vera walter xenia yusuf zoe amir bianca chen "
         "dmitri elena farid gina hannah igor julia kenji laura marco nina oscar petra "
         "rafael sara tomas ursula victor wanda yara zeno alice bruno clara dario "
         "eva frank helga ines jakob klara leon maja noah otto pia rene selma theo").split()
LAST = ("smith mueller garcia rossi novak kowalski jensen dubois silva tanaka kim "
        "nguyen petrov ivanova schmidt weber wagner becker hoffmann schulz koch "
        "richter klein wolf neumann schwarz braun zimmermann hartmann krueger lange "
        "werner lehmann schmitt fischer meyer moreau laurent bernard martin durand "
        "lefebvre fontaine rousseau blanc costa ferrari romano colombo ricci marino "
        "greco bruno gallo conti deluca mancini lombardi moretti barbieri fontana "
        "santoro mariani rinaldi caruso ferrara galli martini leone longo gentile").split()
PATTERNS = ("{f}.{l}", "{f}{l}", "{f0}{l}", "{f}_{l}", "{f}.{l}{n}", "{f}{n}", "{l}.{f}")


def role_keys(repo):
    """The prober's role local parts, keyed as it keys them (risk_lists.cpp):
    a generated mailbox must not be one, or its verdict would be risky."""
    keys = set()
    path = os.path.join(repo, "data", "role_local_parts.txt")
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip().lower()
            if line and not line.startswith("#"):
                keys.add(line.replace(".", "").replace("-", "").replace("_", ""))
    return keys


def shares(n, rng):
    """Behaviour per domain index: exact counts from MIX, shuffled."""
    out = []
    for name, percent in MIX:
        out += [name] * (n * percent // 100)
    out += ["accepting"] * (n - len(out))
    rng.shuffle(out)
    return out


def allocate(total, n, rng):
    """Addresses per domain: heavy-tailed (Pareto) weights, capped."""
    weights = [min(rng.paretovariate(1.5), WEIGHT_CAP) for _ in range(n)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    by_remainder = sorted(range(n), key=lambda i: weights[i] * scale - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def name_source(rng, roles):
    """Distinct plausible local parts for one domain, never a role."""
    seen = set()
    while True:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = rng.choice(PATTERNS).format(f=first, l=last, f0=first[0], n=rng.randrange(1, 100))
        key = local.replace(".", "").replace("_", "")
        if local in seen or key in roles:
            continue
        seen.add(local)
        yield local


def domain_name(i):
    return f"d{i:05d}.inet.test"


def host_ip(i, behaviour):
    return str((DEAD_BASE if behaviour == "dead" else LIVE_BASE) + i)


def zone_lines(i, behaviour):
    d = domain_name(i)
    mx = "mx." + d
    if behaviour in ("nxdomain",):
        return []
    if behaviour == "no_mail_server":
        return [f"local-data: '{d}. TXT \"v=spf1 -all\"'"]
    if behaviour == "null_mx":
        return [f'local-data: "{d}. MX 0 ."']
    if behaviour == "implicit_mx":
        return [f'local-data: "{d}. A {host_ip(i, behaviour)}"']
    return [f'local-data: "{d}. MX 10 {mx}."', f'local-data: "{mx}. A {host_ip(i, behaviour)}"']


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--domains", type=int, default=10000)
    ap.add_argument("--addresses", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not 10 <= args.domains <= MAX_DOMAINS:
        sys.exit(f"--domains must be 10..{MAX_DOMAINS}")
    if args.addresses < args.domains:
        sys.exit("--addresses must be at least --domains")
    here = os.path.dirname(os.path.abspath(__file__))
    roles = role_keys(os.path.dirname(os.path.dirname(here)))
    rng = random.Random(args.seed)
    behaviours = shares(args.domains, rng)
    duplicates = int(args.addresses * DUPLICATE_SHARE)
    counts = allocate(args.addresses - duplicates, args.domains, rng)
    os.makedirs(args.out, exist_ok=True)

    addresses, truth = [], []
    hosts = []
    zone = ['local-zone: "inet.test." static']
    for i, behaviour in enumerate(behaviours):
        d = domain_name(i)
        # Each domain its own generator: a domain's names do not depend on
        # how many addresses the domains before it drew.
        names = name_source(random.Random(f"{args.seed}:{i}"), roles)
        n = counts[i]
        if behaviour in MAILBOX_BEHAVIOURS:
            existing = sum(1 for _ in range(n) if rng.random() < EXISTING_SHARE)
            asked = [next(names) for _ in range(existing)]
            unused = [next(names) for _ in range(int(existing * UNUSED_MAILBOXES) + 2)]
            absent = [next(names) for _ in range(n - existing)]
            mailboxes = sorted(asked + unused)
            rows = [(a, True) for a in asked] + [(a, False) for a in absent]
        else:
            mailboxes = []
            rows = [(next(names), None) for _ in range(n)]
        for local, exists in rows:
            address = f"{local}@{d}"
            status, reason = TRUTH[(behaviour, exists)]
            addresses.append(address)
            truth.append((address, status, reason))
        zone += zone_lines(i, behaviour)
        hosts.append((host_ip(i, behaviour), d, behaviour, ",".join(mailboxes)))

    dup = random.Random(f"{args.seed}:dup")
    addresses += [dup.choice(addresses) for _ in range(duplicates)]
    rng.shuffle(addresses)

    with open(os.path.join(args.out, "hosts.tsv"), "w", encoding="utf-8") as f:
        for row in hosts:
            f.write("\t".join(row) + "\n")
    with open(os.path.join(args.out, "domains.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("domain", "behaviour", "mx_ip"))
        for ip, d, behaviour, _ in hosts:
            w.writerow((d, behaviour, "" if behaviour in ("nxdomain", "no_mail_server", "null_mx") else ip))
    with open(os.path.join(args.out, "inet.zone.conf"), "w", encoding="utf-8") as f:
        f.write("\n".join(zone) + "\n")
    with open(os.path.join(args.out, "addresses.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(addresses) + "\n")
    with open(os.path.join(args.out, "truth.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("address", "status", "reason"))
        w.writerows(truth)
    summary = {
        "seed": args.seed, "domains": args.domains, "addresses": len(addresses),
        "distinct_addresses": len(truth),
        "domains_per_behaviour": {name: behaviours.count(name) for name, _ in MIX},
        "addresses_per_truth": {},
    }
    for _, status, reason in truth:
        key = f"{status}/{reason}"
        summary["addresses_per_truth"][key] = summary["addresses_per_truth"].get(key, 0) + 1
    with open(os.path.join(args.out, "world.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
