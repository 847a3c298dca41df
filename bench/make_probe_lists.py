#!/usr/bin/env python3
"""Writes the address lists of bench/run-probe-bench.sh (all in the test world).

Usage: make_probe_lists.py OUT_DIR

  probe_fig1.txt        10,000 distinct addresses user<i>@b<NNN>.test over the
                        100 catch-all bench domains (expected: risky/catch_all)
  probe_fig2.txt        2,000 addresses on l0000..l0019.test, 100 per domain:
                        50 existing users (u0..u99) and 50 unknown ones
                        (u100.., nobody..), shuffled with a fixed seed
                        (expected: valid/accepted, invalid/mailbox_not_found)
  probe_fig4.txt        10,000 addresses a<i>@d<NNNNN>.test, one per DNS-only
                        domain d00000..d09999 (expected: valid/domain_ok)
  probe_fig4_names.txt  the 10,000 domain names, for bench/dns_blaster.cpp
  probe_lists.tsv       all of them as fig, i, address, expected status,
                        expected reason (COPY into bench_list)
"""
import os
import random
import sys


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    lists = {}

    lists[1] = [(f"user{i}@b{i % 100:03d}.test", "risky", "catch_all") for i in range(10000)]

    rng = random.Random(20261123)
    fig2 = []
    for d in range(20):
        domain = f"l{d:04d}.test"
        for k in rng.sample(range(100), 50):
            fig2.append((f"u{k}@{domain}", "valid", "accepted"))
        for k in range(25):
            fig2.append((f"u{100 + k}@{domain}", "invalid", "mailbox_not_found"))
            fig2.append((f"nobody{k}@{domain}", "invalid", "mailbox_not_found"))
    rng.shuffle(fig2)
    lists[2] = fig2

    lists[4] = [(f"a{i}@d{i:05d}.test", "valid", "domain_ok") for i in range(10000)]

    for fig, rows in lists.items():
        with open(os.path.join(out, f"probe_fig{fig}.txt"), "w") as f:
            f.writelines(addr + "\n" for addr, _, _ in rows)
    with open(os.path.join(out, "probe_fig4_names.txt"), "w") as f:
        f.writelines(f"d{i:05d}.test\n" for i in range(10000))
    with open(os.path.join(out, "probe_lists.tsv"), "w") as f:
        for fig, rows in lists.items():
            for i, (addr, status, reason) in enumerate(rows, start=1):
                f.write(f"{fig}\t{i}\t{addr}\t{status}\t{reason}\n")


if __name__ == "__main__":
    main()
