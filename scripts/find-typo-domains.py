#!/usr/bin/env python3
"""Lists the entries of the shipped free and disposable lists (and of
data/typo_domains.txt) that are one edit (deletion, insertion, substitution or
transposition of neighbours) from a provider domain of data/popular_domains.txt
or data/provider_domains.txt without being one.

These are candidates for data/typo_domains.txt: a person reviews them (a short
name one edit from a provider can be a provider of its own) and keeps the
typos. Run from the repository root: scripts/find-typo-domains.py
"""
import sys

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-."


def read(path):
    try:
        with open(path, encoding="ascii") as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def one_edit_variants(word):
    out = set()
    for i in range(len(word)):
        out.add(word[:i] + word[i + 1:])
        for c in ALPHABET:
            out.add(word[:i] + c + word[i + 1:])
        if i + 1 < len(word):
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2:])
    for i in range(len(word) + 1):
        for c in ALPHABET:
            out.add(word[:i] + c + word[i:])
    out.discard(word)
    return out


def main():
    providers = set(read("data/popular_domains.txt")) | set(read("data/provider_domains.txt"))
    listed = {}
    for name in ("free_domains", "disposable_domains", "typo_domains"):
        for d in read(f"data/{name}.txt"):
            listed.setdefault(d, []).append(name)
    near = {}
    for p in sorted(providers):
        for v in one_edit_variants(p):
            if v in listed and v not in providers:
                near.setdefault(v, []).append(p)
    for d in sorted(near):
        print(d, ",".join(sorted(near[d])), ",".join(listed[d]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
