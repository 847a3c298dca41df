#!/usr/bin/env python3
"""Deterministic mixed address list for the syntax benchmarks.

    make_address_list.py [-n N] [--seed S] [-o FILE]
    make_address_list.py --from LIST --copies K [--limit ROWS] [--copy-text] [-o FILE]

The first form writes N distinct addresses (default 100000), one per line, shuffled:
about 80% well formed (free providers, many company-like domains, some IDN
domains, plus tags and dots, role accounts, disposable providers), 10% typos
of popular domains (gmial.com, yaho.com, gmail.con, outlook.co, ...) and 10%
invalid (double dots, no @, spaces, two @, trailing dot, over-long local
part, ...). The same seed always gives the same list.

The second form expands an existing list K times into distinct rows (for the
SQL table): copy 0 is the list as it is; copy k > 0 varies every line with
the number k in a way that keeps its category (valid stays valid, a role
account stays a role account, invalid stays invalid, the domain is kept).
--copy-text escapes the output for COPY ... FROM STDIN (FORMAT text).

Python 3 standard library only.
"""

import argparse
import itertools
import random
import sys

# --- well-formed material ---------------------------------------------------

# (domain, weight): roughly the shape of a real consumer list.
FREE_PROVIDERS = [
    ("gmail.com", 300), ("yahoo.com", 90), ("hotmail.com", 70), ("outlook.com", 60),
    ("icloud.com", 30), ("aol.com", 20), ("live.com", 15), ("msn.com", 8),
    ("googlemail.com", 5), ("me.com", 6), ("mail.ru", 10), ("yandex.ru", 8),
    ("qq.com", 10), ("163.com", 6), ("hotmail.co.uk", 8), ("yahoo.co.uk", 8),
    ("gmx.de", 8), ("web.de", 8), ("hotmail.fr", 6), ("orange.fr", 6), ("yahoo.fr", 4),
    ("libero.it", 4), ("uol.com.br", 4), ("naver.com", 4), ("comcast.net", 5),
    ("protonmail.com", 6), ("proton.me", 4), ("zoho.com", 3), ("gmx.net", 3),
    ("mail.com", 2), ("yahoo.co.jp", 3), ("rediffmail.com", 2), ("t-online.de", 4),
]

DISPOSABLE = [
    "mailinator.com", "guerrillamail.com", "yopmail.com", "10minutemail.com",
    "trashmail.com", "sharklasers.com", "getnada.com", "dispostable.com", "maildrop.cc",
]

IDN_DOMAINS = [
    "bücher.example", "münchen-bau.de", "café-paris.fr", "straße.de", "españa-viajes.es",
    "пример.рф", "例え.jp", "中文网.cn", "zürich-versicherung.ch", "øl.no",
    "ελληνικά.gr", "ündüz.com.tr", "köln-technik.de", "çarşı.com", "bücher.example",
]

COMPANY_WORDS_A = [
    "acme", "apex", "blue", "bright", "cedar", "city", "clear", "coastal", "core", "crest",
    "delta", "eagle", "east", "eco", "edge", "elm", "first", "fox", "global", "golden",
    "green", "harbor", "iron", "jade", "key", "lake", "maple", "metro", "north", "nova",
    "oak", "omega", "pacific", "peak", "pine", "prime", "quantum", "red", "river", "rock",
    "silver", "smart", "solar", "south", "star", "stone", "summit", "sun", "swift", "true",
    "union", "urban", "valley", "vertex", "west", "white", "wild", "zen",
]
COMPANY_WORDS_B = [
    "widgets", "labs", "systems", "logistics", "consulting", "partners", "media", "tech",
    "software", "foods", "health", "dental", "legal", "capital", "realty", "motors",
    "design", "studio", "group", "works", "energy", "bank", "insurance", "travel",
    "analytics", "robotics", "supply", "holdings", "ventures", "digital", "networks",
    "builders", "outfitters", "pharma", "bakery", "farms", "cloud", "data", "security",
]
COMPANY_TLDS = [
    ("com", 60), ("net", 8), ("org", 6), ("io", 6), ("co", 3), ("co.uk", 5), ("de", 5),
    ("fr", 3), ("nl", 2), ("com.au", 2), ("ca", 2), ("us", 2), ("biz", 1), ("info", 1),
    ("eu", 1), ("ch", 1), ("se", 1), ("it", 1), ("es", 1), ("ai", 1), ("dev", 1),
]

FIRST_NAMES = [
    "james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william",
    "elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah",
    "charles", "karen", "chris", "nancy", "daniel", "lisa", "matthew", "betty", "anthony",
    "sandra", "mark", "ashley", "paul", "emily", "steven", "donna", "andrew", "michelle",
    "kevin", "carol", "brian", "amanda", "george", "melissa", "ed", "anna", "li", "wei",
    "mohammed", "fatima", "juan", "maria", "luca", "sofia", "noah", "olivia", "yuki", "hana",
    "ivan", "olga", "pierre", "chloe", "hans", "greta", "raj", "priya", "kwame", "amara",
]
LAST_NAMES = [
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
    "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
    "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright",
    "scott", "torres", "nguyen", "hill", "flores", "green", "adams", "nelson", "baker",
    "hall", "rivera", "campbell", "mitchell", "carter", "roberts", "mueller", "schmidt",
    "rossi", "dubois", "kowalski", "ivanov", "tanaka", "sato", "kim", "park", "chen", "wang",
    "singh", "patel", "okafor", "silva", "santos", "o-brien", "van-dijk",
]
UNICODE_LOCALS = ["jürgen", "zoë", "josé", "søren", "françois", "björn", "用户", "почта", "müller.anna"]
ROLE_LOCALS = [
    "info", "sales", "support", "admin", "contact", "billing", "noreply", "no-reply",
    "postmaster", "webmaster", "hello", "office", "marketing", "jobs", "careers", "help",
    "abuse", "hr", "team", "accounts",
]
PLUS_TAGS = ["news", "shop", "work", "spam", "2024", "promo", "list", "x"]

# --- typos of popular domains -----------------------------------------------

COMMON_TYPOS = [
    "gmial.com", "gmai.com", "gmal.com", "gnail.com", "gamil.com", "gmaill.com", "gmail.con",
    "gmail.co", "gmail.cm", "gmail.om", "gmail.comm", "gmali.com", "gmsil.com", "gmil.com",
    "hotmial.com", "hotmal.com", "hotmai.com", "hotmail.con", "hotmail.co", "homail.com",
    "hotmil.com", "hotnail.com", "yaho.com", "yahooo.com", "yahoo.con", "yahoo.co", "yhoo.com",
    "yaoo.com", "yahho.com", "outlook.co", "outlok.com", "outllook.com", "outlook.con",
    "otlook.com", "outloo.com", "iclod.com", "icloud.con", "icoud.com", "aol.con",
    "comcast.nt", "hotmail.co.uj", "yaho.co.uk", "hotmial.fr", "gmx.dee", "live.con",
    "protonmial.com", "googlemial.com", "yandex.ry",
]
TYPO_TARGETS = [
    "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com",
    "googlemail.com", "protonmail.com", "comcast.net", "hotmail.co.uk", "yahoo.co.uk",
]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def weighted(rng, pairs):
    total = sum(w for _, w in pairs)
    x = rng.uniform(0, total)
    for item, w in pairs:
        x -= w
        if x <= 0:
            return item
    return pairs[-1][0]


def make_company_domains(rng, count):
    out = set()
    while len(out) < count:
        a, b = rng.choice(COMPANY_WORDS_A), rng.choice(COMPANY_WORDS_B)
        style = rng.random()
        if style < 0.55:
            name = f"{a}-{b}"
        elif style < 0.85:
            name = f"{a}{b}"
        else:
            name = f"{a}{b}{rng.randint(1, 99)}"
        sub = "mail." if rng.random() < 0.04 else ""
        out.add(f"{sub}{name}.{weighted(rng, COMPANY_TLDS)}")
    return sorted(out)


def local_part(rng):
    f, l = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    r = rng.random()
    if r < 0.30:
        local = f"{f}.{l}"
    elif r < 0.45:
        local = f"{f}{l}"
    elif r < 0.55:
        local = f"{f[0]}{l}"
    elif r < 0.62:
        local = f"{f}_{l}"
    elif r < 0.72:
        local = f"{f}{rng.randint(1, 9999)}"
    elif r < 0.80:
        local = f"{f}.{l}{rng.randint(1, 99)}"
    elif r < 0.87:
        local = f"{f[0]}.{l}"
    elif r < 0.93:
        local = f
    else:
        local = f"{l}.{f}"
    if rng.random() < 0.08:
        local += "+" + rng.choice(PLUS_TAGS)
    if rng.random() < 0.05:
        local = local.capitalize() if rng.random() < 0.7 else local.upper()
    return local


def well_formed(rng, companies):
    r = rng.random()
    if r < 0.05:
        local = rng.choice(ROLE_LOCALS)
        domain = rng.choice(companies) if rng.random() < 0.8 else weighted(rng, FREE_PROVIDERS)
    elif r < 0.08:
        local, domain = local_part(rng), rng.choice(DISPOSABLE)
    elif r < 0.10:
        local, domain = local_part(rng), rng.choice(IDN_DOMAINS)
    elif r < 0.11:
        local, domain = rng.choice(UNICODE_LOCALS), rng.choice(companies + IDN_DOMAINS[:3])
    elif r < 0.55:
        local, domain = local_part(rng), weighted(rng, FREE_PROVIDERS)
    else:
        local, domain = local_part(rng), rng.choice(companies)
    if rng.random() < 0.02:
        domain = domain.upper() if domain.isascii() else domain
    return f"{local}@{domain}"


def one_edit(rng, domain):
    """A random single-character typo in the name part of a popular domain."""
    name, _, suffix = domain.partition(".")
    i = rng.randrange(len(name))
    kind = rng.random()
    if kind < 0.3 and len(name) > 3:
        name = name[:i] + name[i + 1:]                     # deletion
    elif kind < 0.55 and i + 1 < len(name):
        name = name[:i] + name[i + 1] + name[i] + name[i + 2:]  # transposition
    elif kind < 0.8:
        name = name[:i] + rng.choice(LETTERS) + name[i + 1:]    # substitution
    else:
        name = name[:i] + rng.choice(LETTERS) + name[i:]        # insertion
    return f"{name}.{suffix}"


def typo(rng):
    if rng.random() < 0.6:
        domain = rng.choice(COMMON_TYPOS)
    else:
        domain = one_edit(rng, rng.choice(TYPO_TARGETS))
    return f"{local_part(rng)}@{domain}"


def invalid(rng, companies):
    local = local_part(rng).replace("+", "")
    domain = weighted(rng, FREE_PROVIDERS) if rng.random() < 0.5 else rng.choice(companies)
    kinds = [
        lambda: f"{local}..x@{domain}" if "." not in local else f"{local.replace('.', '..', 1)}@{domain}",
        lambda: f".{local}@{domain}",
        lambda: f"{local}.@{domain}",
        lambda: f"{local}{domain}",                              # missing @
        lambda: f"{local}@@{domain}",
        lambda: f"{local}@{domain}@{domain}",                    # two @
        lambda: f"{local} {rng.choice(LAST_NAMES)}@{domain}",    # space in local
        lambda: f"{local}@{domain.replace('.', ' .', 1)}",       # space in domain
        lambda: f"{local}@{domain}.",                            # trailing dot
        lambda: f"{local}@.{domain}",
        lambda: f"{local}@{domain.replace('.', '..', 1)}",
        lambda: "x" * rng.randint(65, 90) + f"@{domain}",        # over-long local part
        lambda: f"{local}@" + "a" * rng.randint(64, 70) + ".com",  # label too long
        lambda: f"@{domain}",
        lambda: f"{local}@",
        lambda: f"{local}@localhost",                            # one label
        lambda: f"{local}@{domain.replace('.', ',', 1)}",
        lambda: f"{local}@-{domain}",
        lambda: f"{local}@{domain.split('.')[0]}_mail.com",
        lambda: f"{local}(comment)@{domain}",
        lambda: f"\"{local} x\"@{domain}",                       # quoted (off by default)
        lambda: f"{local}@[192.0.2.{rng.randint(1, 254)}]",      # literal (off by default)
        lambda: f"<{local}@{domain}>",
        lambda: f"{local}@{domain.split('.')[0]}.123",           # numeric TLD
        lambda: f"{local};{rng.choice(FIRST_NAMES)}@{domain}",
    ]
    return rng.choice(kinds)()


def generate(n, seed):
    rng = random.Random(seed)
    companies = make_company_domains(rng, 4000)
    n_typo = n // 10
    n_invalid = n // 10
    seen = set()

    def distinct(make, count):
        # Every address once; a repeat just draws again.
        got = []
        while len(got) < count:
            a = make()
            if a not in seen:
                seen.add(a)
                got.append(a)
        return got

    out = distinct(lambda: typo(rng), n_typo)
    out += distinct(lambda: invalid(rng, companies), n_invalid)
    out += distinct(lambda: well_formed(rng, companies), n - n_typo - n_invalid)
    rng.shuffle(out)
    return out


def vary(line, k):
    """Copy k of a line: distinct from the others, same category."""
    if k == 0:
        return line
    at = line.find("@")
    if at > 0 and line.count("@") == 1 and line[at - 1].isalnum() and not line.startswith(("\"", "<")):
        # "+k" keeps a role account a role account ("info+3" is "info") and
        # keeps a valid local part valid; an invalid one stays invalid.
        return f"{line[:at]}+{k}{line[at:]}"
    # Otherwise the number goes after the first character: a leading or
    # trailing dot, a quote, a space or a missing @ all survive that.
    return f"{line[:1]}{k}{line[1:]}"


def copy_escape(line):
    return line.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=100000, help="number of addresses (default 100000)")
    p.add_argument("--seed", type=int, default=20240611, help="random seed (fixed default)")
    p.add_argument("-o", "--output", help="output file (default stdout)")
    p.add_argument("--from", dest="source", help="expand this list instead of generating one")
    p.add_argument("--copies", type=int, default=1, help="with --from: how many copies (default 1)")
    p.add_argument("--limit", type=int, help="with --from: stop after this many lines")
    p.add_argument("--copy-text", action="store_true", help="escape for COPY FROM STDIN (FORMAT text)")
    args = p.parse_args()

    if args.source:
        with open(args.source, encoding="utf-8") as f:
            base = [line.rstrip("\n") for line in f]
        lines = (vary(line, k) for k in range(args.copies) for line in base)
        if args.limit is not None:
            lines = itertools.islice(lines, args.limit)
    else:
        lines = generate(args.n, args.seed)
    if args.copy_text:
        lines = (copy_escape(line) for line in lines)

    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for line in lines:
            out.write(line)
            out.write("\n")
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    main()
