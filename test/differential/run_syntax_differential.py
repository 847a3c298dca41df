#!/usr/bin/python3
"""The syntax differential test: our parser (tools/ev_syntax) against Debian's
python-email-validator (check_deliverability=False, allow_smtputf8 default)
on make_syntax_cases.py's addresses.

For each address both verdicts (valid or not) and, when both accept, the
normalized forms (NFC local part @ lower-case A-label domain) are compared.
A disagreement passes only when its class and kind are listed in
syntax_differences.txt, each entry with the RFC reason we differ; anything
else fails the test, printing examples. Listed entries that no case needs
any more are reported too (and fail, so the list stays true).

Usage: run_syntax_differential.py EV_SYNTAX [--count-per-class N]
"""
import argparse
import collections
import os
import subprocess
import sys

import email_validator

HERE = os.path.dirname(os.path.abspath(__file__))


def load_differences(path):
    allowed = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3 or parts[1] not in ("we-refuse", "we-accept", "normalized"):
                sys.exit(f"{path}:{number}: want class<TAB>we-refuse|we-accept|normalized<TAB>reason")
            allowed[(parts[0], parts[1])] = parts[2]
    return allowed


def unicode_13_14_code_points():
    """Code points assigned in Unicode 13.0 or 14.0, from Perl's Unicode::UCD
    (Debian 12's perl carries Unicode 14's DerivedAge)."""
    script = ('use Unicode::UCD qw(prop_invlist); for my $v ("13.0", "14.0") {'
              ' my @l = prop_invlist("Age=$v"); print join(",", @l), "\\n" }')
    out = subprocess.run(["perl", "-e", script], check=True, capture_output=True, text=True).stdout
    ranges = []
    for line in out.splitlines():
        edges = [int(x) for x in line.split(",") if x]
        ranges += [(edges[i], edges[i + 1] if i + 1 < len(edges) else 0x110000) for i in range(0, len(edges), 2)]
    return ranges


def theirs(address):
    try:
        v = email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as e:
        return False, str(e)
    return True, v.local_part + "@" + v.ascii_domain


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ev_syntax")
    ap.add_argument("--count-per-class", type=int, default=2500)
    ap.add_argument("--differences", default=os.path.join(HERE, "syntax_differences.txt"))
    args = ap.parse_args()

    allowed = load_differences(args.differences)
    cases = subprocess.run([sys.executable, os.path.join(HERE, "make_syntax_cases.py"),
                            "--count-per-class", str(args.count_per_class)],
                           check=True, capture_output=True, text=True).stdout.splitlines()
    classes = [c.split("\t")[0] for c in cases]
    hexes = [c.split("\t")[1] for c in cases]
    ours_out = subprocess.run([args.ev_syntax], input="\n".join(hexes) + "\n", check=True,
                              capture_output=True, text=True).stdout.splitlines()
    if len(ours_out) != len(cases):
        sys.exit(f"ev_syntax answered {len(ours_out)} lines for {len(cases)} cases")

    newer = unicode_13_14_code_points()

    def has_newer(domain):
        labels = []
        for label in domain.split("."):
            if label.lower().startswith("xn--"):
                try:
                    label = label[4:].encode("ascii").decode("punycode")
                except UnicodeError:
                    pass
            labels.append(label)
        return any(lo <= ord(ch) < hi for ch in "".join(labels) for lo, hi in newer)

    used = collections.Counter()
    unlisted = collections.defaultdict(list)
    agreed = 0
    for cls, hx, ours_line in zip(classes, hexes, ours_out):
        address = bytes.fromhex(hx).decode("utf-8", "surrogatepass")
        verdict, _, detail = ours_line.partition("\t")
        ours_ok = verdict == "ok"
        their_ok, their_detail = theirs(address)
        if ours_ok == their_ok and (not ours_ok or detail == their_detail):
            agreed += 1
            continue
        kind = "normalized" if ours_ok and their_ok else ("we-refuse" if their_ok else "we-accept")
        # libidn2 2.3.3's IDNA tables stop at Unicode 12: a domain with a
        # newer code point is its own listed class, whatever the generator's.
        if kind == "we-refuse" and has_newer(address.rpartition("@")[2]):
            cls = "idna_tables_unicode_12"
        if (cls, kind) in allowed:
            used[(cls, kind)] += 1
        else:
            unlisted[(cls, kind)].append((address, detail, their_detail))

    print(f"syntax differential: {len(cases)} addresses, {agreed} agree, "
          f"{sum(used.values())} listed differences, {sum(len(v) for v in unlisted.values())} unlisted")
    for key, count in sorted(used.items()):
        print(f"  listed  {key[0]:34} {key[1]:10} {count:6}  ({allowed[key]})")
    failed = False
    for key, examples in sorted(unlisted.items()):
        failed = True
        print(f"  UNLISTED {key[0]} {key[1]}: {len(examples)} cases, e.g.")
        for address, ours, their in examples[:5]:
            print(f"    {address!r} ({address.encode('utf-8', 'surrogatepass').hex()})\n      ours: {ours}\n      theirs: {their}")
    for key in sorted(set(allowed) - set(used)):
        failed = True
        print(f"  STALE listed difference no case shows any more: {key[0]} {key[1]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
