#!/usr/bin/env python3
"""Deterministic Unicode-heavy address list for the syntax benchmarks.

    make_unicode_address_list.py [-n N] [--seed S] [-o FILE]

Every address carries non-ASCII text, where the issue 16 checks cost the
most: about 35% internationalised local parts (Latin with diacritics, some
of them decomposed so that NFC has work to do, Greek, Cyrillic, Hebrew,
Arabic, Devanagari, Thai, kana, CJK, Hangul) at ASCII domains, 35% ASCII
local parts at IDN domains (U-labels in the same scripts, some written as
A-labels, some in upper case or fullwidth forms that UTS #46 maps), 20%
both, and 10% refused ones (Unicode spaces and format characters in the
local part, A-labels of disallowed code points, CONTEXTO characters out of
context). As in a real list, domains repeat: the IDN domains come from a
pool of 3,000 (and the ASCII ones from 500), drawn with weights 1/rank;
every local part is drawn afresh. The same seed always gives the same list.
Standard library only.
"""

import argparse
import random
import sys
import unicodedata

SCRIPTS = [
    (0x00E0, 0x00FD), (0x0101, 0x017E), (0x03B1, 0x03C9), (0x0430, 0x044F), (0x05D0, 0x05EA),
    (0x0628, 0x063A), (0x0915, 0x0939), (0x0E01, 0x0E2E), (0x3042, 0x3093), (0x30A2, 0x30F3),
    (0x4E00, 0x62FF), (0xAC00, 0xB7FF),
]
ASCII = "abcdefghijklmnopqrstuvwxyz0123456789"
TLDS = ["com", "de", "ru", "jp", "cn", "kr", "fr", "org", "net", "xn--p1ai", "in", "il"]
BAD_LOCAL = ["\u00a0", "\u2002", "\u3000", "\u200b", "\u200d", "\u00ad", "\ufeff", "\u202e", "\ue000", "\ufdd0"]
BAD_DOMAIN = ["xn--p6j", "xn--oc-jw3n", "a\u00b7b", "a\u30fbb", "a\u2260b", "xn--abc-"]


def word(rng, script, k):
    lo, hi = script
    return "".join(chr(rng.randint(lo, hi)) for _ in range(k))


def idn_label(rng, roll):
    ulabel = word(rng, rng.choice(SCRIPTS), rng.randint(2, 7))
    if roll < 0.1 and ord(ulabel[0]) < 0x0180:
        ulabel = ulabel.upper()
    if roll > 0.8:
        try:
            return "xn--" + ulabel.lower().encode("punycode").decode("ascii")
        except UnicodeError:
            pass
    return ulabel


def generate(n, seed):
    rng = random.Random(seed)
    idn_pool = [idn_label(rng, rng.random()) + "." + rng.choice(TLDS) for _ in range(3000)]
    ascii_pool = ["".join(rng.choice(ASCII[:26]) for _ in range(6)) + "." + rng.choice(TLDS) for _ in range(500)]
    idn_weights = [1 / (rank + 1) for rank in range(len(idn_pool))]
    ascii_weights = [1 / (rank + 1) for rank in range(len(ascii_pool))]
    out = []
    for _ in range(n):
        script = rng.choice(SCRIPTS)
        # Hebrew and Arabic labels stay within their script (bidi rule).
        ulocal = word(rng, script, rng.randint(3, 8))
        if script[0] < 0x0180 and rng.random() < 0.3:
            ulocal = unicodedata.normalize("NFD", ulocal)
        alocal = "".join(rng.choice(ASCII) for _ in range(rng.randint(4, 10)))
        idn_domain = rng.choices(idn_pool, idn_weights)[0]
        tld = rng.choice(TLDS)
        kind = rng.random()
        if kind < 0.35:
            address = ulocal + "@" + rng.choices(ascii_pool, ascii_weights)[0]
        elif kind < 0.70:
            address = alocal + "@" + idn_domain
        elif kind < 0.90:
            address = ulocal + "@" + idn_domain
        elif kind < 0.95:
            bad = rng.choice(BAD_LOCAL)
            address = ulocal[:2] + bad + ulocal[2:] + "@example." + tld
        else:
            address = alocal + "@" + rng.choice(BAD_DOMAIN) + "." + tld
        out.append(address)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-n", type=int, default=100000)
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("-o", default="-")
    args = p.parse_args()
    lines = "\n".join(generate(args.n, args.seed)) + "\n"
    if args.o == "-":
        sys.stdout.write(lines)
    else:
        with open(args.o, "w", encoding="utf-8") as f:
            f.write(lines)


if __name__ == "__main__":
    main()
