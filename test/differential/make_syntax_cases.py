#!/usr/bin/python3
"""Deterministic address cases for the syntax differential test.

Prints "class<TAB>hex(address)" lines: tens of thousands of addresses over
the classes of README "Syntax rules" (ASCII shapes and length boundaries,
Unicode classes of local parts, NFC, IDN U-labels and A-labels, CONTEXTJ and
CONTEXTO characters, bidi, TLD forms, special-use names). The same seed and
the same Python (Debian 12's /usr/bin/python3, Unicode 14.0 in unicodedata)
give the same list; run_syntax_differential.py feeds it to both checkers.

Usage: make_syntax_cases.py [--count-per-class N] [--seed S]
"""
import argparse
import random
import sys
import unicodedata

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
LDH = "abcdefghijklmnopqrstuvwxyz0123456789-"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
NOT_ATEXT = " ()<>[]:;,\\\"@"

# Scripts whose letters IDNA2008 had by Unicode 12 (libidn2 2.3.3's tables):
# ranges from Unicode 1.1-era blocks, so both checkers know every letter.
OLD_SCRIPT_RANGES = [
    (0x00E0, 0x00FE), (0x0100, 0x017F), (0x03B1, 0x03C9), (0x0430, 0x044F),
    (0x05D0, 0x05EA), (0x0627, 0x064A), (0x0905, 0x0939), (0x0E01, 0x0E30),
    (0x3041, 0x3094), (0x30A1, 0x30FA), (0x4E00, 0x9FA5), (0xAC00, 0xD7A3),
]
# Letters added in Unicode 13 and 14: the IDNA tables of libidn2 2.3.3 stop
# at Unicode 12, those of Python's idna 3.3 at 14.
NEW_LETTERS = [0x08BE, 0x08C7, 0x10E80, 0x10E9F, 0x10FB0, 0x18B00, 0x11900,
               0x10570, 0x1E290, 0x16A70, 0x12F90, 0x10F70, 0x11F04]


def cps_where(predicate, limit=0x30000):
    return [c for c in range(0x80, limit) if predicate(c)]


def category(c):
    return unicodedata.category(chr(c))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count-per-class", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    n = args.count_per_class
    out = []

    def emit(cls, address):
        out.append((cls, address))

    all_cps = [c for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    visible = cps_where(lambda c: category(c)[0] in "LNPS")
    whitespace = [c for c in all_cps if chr(c).isspace() and category(c)[0] == "Z"] + [0x2028, 0x2029]
    formats = [c for c in all_cps if category(c) == "Cf" and c != 0xFEFF]  # a leading BOM is trimmed: its own class
    marks = cps_where(lambda c: category(c)[0] == "M")
    unassigned = [c for c in all_cps if category(c) == "Cn" and (c & 0xFFFE) != 0xFFFE and not 0xFDD0 <= c <= 0xFDEF]
    nonchars = [c for c in all_cps if (c & 0xFFFE) == 0xFFFE or 0xFDD0 <= c <= 0xFDEF]
    private = [c for c in all_cps if category(c) == "Co"]
    decomposable = cps_where(lambda c: unicodedata.decomposition(chr(c)) != ""
                             and not unicodedata.decomposition(chr(c)).startswith("<")
                             and category(c)[0] in "L", 0x2000)
    old_letters = [c for lo, hi in OLD_SCRIPT_RANGES for c in range(lo, hi + 1) if category(c) == "Lo" or category(c) == "Ll"]

    def atom(k=None):
        k = k or rnd.randint(1, 12)
        return "".join(rnd.choice(ATEXT) for _ in range(k))

    def local(k=None):
        parts = [atom() for _ in range(rnd.randint(1, 3))]
        s = ".".join(parts)
        return s[:k] if k else s

    def label(k=None):
        k = k or rnd.randint(1, 12)
        if k == 1:
            return rnd.choice(LETTERS + "0123456789")
        inner = "".join(rnd.choice(LDH) for _ in range(k - 2))
        s = rnd.choice(LETTERS) + inner + rnd.choice(LETTERS + "0123456789")
        if len(s) >= 4 and s[2:4] == "--":
            s = s[:2] + "x" + s[3:]
        return s

    def tld():
        return rnd.choice(["com", "net", "org", "de", "fr", "io", "co", "museum", "xn--p1ai", "info"])

    def domain():
        return ".".join(label() for _ in range(rnd.randint(1, 3))) + "." + tld()

    def u(cps):
        return "".join(chr(c) for c in cps)

    def uletters(pool, k=None):
        return u(rnd.choice(pool) for _ in range(k or rnd.randint(1, 8)))

    for _ in range(n):
        emit("ascii_valid", local() + "@" + domain())
    for _ in range(n):
        lo = local()
        pos = rnd.randint(1, len(lo) - 1) if len(lo) > 1 else 1  # not at the ends: those are trimmed
        emit("ascii_bad_local_char", lo[:pos] + rnd.choice(NOT_ATEXT.replace("@", "")) + lo[pos:] + "@" + domain())
    for _ in range(n // 3):
        emit("ascii_bad_dots", rnd.choice([".", ""]) + atom() + rnd.choice(["..", "."]) + atom() + rnd.choice([".", ""]) + "@" + domain())
    for _ in range(n // 3):
        d = domain()
        pos = rnd.randint(0, len(d))
        emit("ascii_bad_domain_char", local() + "@" + d[:pos] + rnd.choice("_!#$%&'*+/=?^`{|}~") + d[pos:])
    for _ in range(n // 3):
        emit("ascii_label_hyphen", local() + "@" + rnd.choice(["-", ""]) + label() + rnd.choice(["-", ""]) + "." + tld())
    for k in list(range(60, 68)) * (n // 40 + 1):
        emit("ascii_local_length", atom(k) + "@" + domain())
    for k in list(range(60, 66)) * (n // 40 + 1):
        emit("ascii_label_length", local(5) + "@" + label(k) + "." + tld())
    for total in list(range(250, 258)) * (n // 40 + 1):
        d = "example.com"
        lo = atom(min(64, max(1, total - len(d) - 1)))
        d2 = "a" * max(0, total - len(lo) - 1 - len(d) - 1)
        emit("ascii_address_length", lo + "@" + ".".join(x for x in [d2[:63], d2[63:126], d2[126:189], d2[189:]] if x) + "." + d)
    for _ in range(n // 3):
        emit("ascii_no_at_or_two", rnd.choice([local() + domain(), local() + "@" + local() + "@" + domain(), "@" + domain(), local() + "@"]))
    for _ in range(n // 3):
        emit("tld_letters_digits", local() + "@" + label() + "." + rnd.choice(["c0m", "1com", "a1", "com1", "123", "c-m", "x", "xn--p1ai", "xn--zz"]))
    for _ in range(n // 3):
        emit("reserved_hyphens", local() + "@" + rnd.choice(LETTERS) + rnd.choice(LETTERS) + "--" + label() + "." + tld())
    for name in ["onion", "invalid", "localhost", "local", "test", "example", "alt", "arpa", "home.arpa", "example.com", "example.net", "example.org"]:
        for _ in range(n // 30 + 1):
            emit("special_use_" + name.replace(".", "_"), local() + "@" + label() + "." + name)

    # Unicode in local parts
    for _ in range(n):
        emit("unicode_local_visible", uletters(visible) + "@" + domain())
    for _ in range(n):
        emit("unicode_local_letters", uletters(old_letters) + rnd.choice(["", ".", "+"]) + atom(3) + "@" + domain())
    for cls, pool in [("whitespace", whitespace), ("format", formats), ("unassigned", unassigned),
                      ("noncharacter", nonchars), ("private_use", private)]:
        for _ in range(n // 2):
            where = rnd.choice(["start", "middle", "end"])
            c = chr(rnd.choice(pool))
            lo = atom(4)
            s = {"start": c + lo, "middle": lo[:2] + c + lo[2:], "end": lo + c}[where]
            emit("unicode_local_" + cls, s + "@" + domain())
    for _ in range(n // 2):
        emit("unicode_local_combining_start", chr(rnd.choice(marks)) + atom(3) + "@" + domain())
    for _ in range(n // 2):
        emit("unicode_local_combining_inside", atom(2) + chr(rnd.choice(marks)) + atom(2) + "@" + domain())
    for _ in range(n // 2):
        emit("unicode_local_nfd", unicodedata.normalize("NFD", u(rnd.choice(decomposable) for _ in range(3))) + "@" + domain())
    for _ in range(n // 4):
        emit("unicode_local_nfc_to_ascii", atom(2) + rnd.choice(["\u037e", "\u1fef", "\u212a", "\u2126", "\u1fee"]) + atom(2) + "@" + domain())
    for _ in range(n // 4):
        emit("unicode_local_length", u(rnd.choice(old_letters) for _ in range(rnd.randint(18, 24))) + "@" + domain())
    for _ in range(n // 6):
        emit("leading_bom", "\ufeff" + local() + "@" + domain())
    for _ in range(n // 6):
        emit("ascii_space_around", rnd.choice([" ", "\t", "  "]) + local() + "@" + domain() + rnd.choice([" ", ""]))

    # IDN domains
    for _ in range(n):
        emit("idn_u_label", local() + "@" + uletters(old_letters) + rnd.choice(["", "-" + label(3)]) + "." + tld())
    for _ in range(n // 2):
        ul = uletters(old_letters, rnd.randint(1, 6))
        try:
            emit("idn_a_label", local() + "@xn--" + ul.encode("punycode").decode("ascii") + "." + tld())
        except UnicodeError:
            pass
    for _ in range(n // 2):
        ul = u(rnd.choice(visible + whitespace + formats) for _ in range(rnd.randint(1, 4)))
        emit("idn_a_label_any", local() + "@xn--" + ul.encode("punycode").decode("ascii") + "." + tld())
    for _ in range(n // 2):
        emit("idn_u_label_any", local() + "@" + u(rnd.choice(visible) for _ in range(rnd.randint(1, 4))) + "." + tld())
    for _ in range(n // 4):
        emit("idn_space_in_domain", local() + "@" + label(3) + chr(rnd.choice(whitespace)) + label(3) + "." + tld())
    for _ in range(n // 4):
        emit("idn_fullwidth_mapped", local() + "@" + u(0xFF41 + LETTERS.index(c) for c in label(5) if c in LETTERS) + "a." + tld())
    for _ in range(n // 4):
        emit("idn_uppercase_mapped", local() + "@" + uletters(old_letters, 3).upper() + "." + tld())
    for _ in range(n // 6):
        emit("idn_unicode_13_14", local() + "@" + u([rnd.choice(NEW_LETTERS)]) + "x." + tld())
    ctx = ["l\u00b7l", "a\u00b7b", "\u00b7l", "\u30a2\u30fb\u30ab", "a\u30fbb", "\u03ba\u0375\u03b1", "a\u0375",
           "\u05d0\u05f3", "a\u05f3", "\u05d0\u05f4", "a\u200db", "a\u200cb", "\u0915\u094d\u200c\u0937",
           "\u0915\u094d\u200d\u0937", "\u0628\u0661\u0662", "\u0628\u06f1\u06f2", "\u0628\u0661\u06f2"]
    for _ in range(n // 3):
        emit("idn_context", local() + "@" + rnd.choice(ctx) + "." + tld())
    bidi = ["\u05e9\u05dc\u05d5\u05dd", "\u05e91", "1\u05e9", "\u0645\u062b\u0627\u0644", "a\u05e9", "\u05e9a",
            "\u0628\u0661", "\u0628-", "\u05e9\u0301"]
    for _ in range(n // 3):
        emit("idn_bidi", local() + "@" + rnd.choice(bidi) + "." + rnd.choice(["com", "xn--4gbrim"]))
    for _ in range(n // 4):
        emit("idn_dots", local() + "@" + label(3) + rnd.choice(["\u3002", "\uff0e", "\uff61"]) + tld())
    for _ in range(n // 4):
        emit("unicode_domain_label_length", local(5) + "@" + u(rnd.choice(old_letters) for _ in range(rnd.randint(15, 30))) + "." + tld())

    for cls, address in out:
        sys.stdout.write(cls + "\t" + address.encode("utf-8", "surrogatepass").hex() + "\n")


if __name__ == "__main__":
    main()
