#!/usr/bin/env python3
"""Which of PostgreSQL's shared memory a backend has mapped, by relation.

    bench/shared_pages.py PID [TOP]

A backend's RssShmem counts every page of the shared memory segment it has
touched. This reads the process's page table (/proc/PID/pagemap: needs root)
for the main segment, maps each present page of the buffer pool to the
buffer it belongs to and, through pg_buffercache, to the relation that
buffer holds now; pages outside the pool are shown by their
pg_shmem_allocations name (the WAL buffers are in "XLOG Ctl"). Connects with
psql to the database the backend works in (PG* environment variables);
needs CREATE EXTENSION pg_buffercache there. A buffer reused for another
page since the backend touched it is shown under its new relation.
"""
import collections
import struct
import subprocess
import sys

PAGE = 4096


def query(sql):
    out = subprocess.run(["psql", "-X", "-A", "-t", "-F", "|", "-c", sql],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def main_segment(pid):
    """The largest shared mapping: PostgreSQL's main anonymous segment."""
    best = None
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if "s" in fields[1] and (best is None or hi - lo > best[1] - best[0]):
                best = (lo, hi)
    return best


def present_pages(pid, lo, hi):
    count = (hi - lo) // PAGE
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        pagemap.seek(lo // PAGE * 8)
        raw = pagemap.read(count * 8)
    return [i for i in range(count) if struct.unpack_from("<Q", raw, i * 8)[0] >> 63]


def main():
    pid = int(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    lo, hi = main_segment(pid)
    allocations = sorted((int(off), int(size), name) for name, off, size in
                         query("SELECT name, off, allocated_size FROM pg_shmem_allocations WHERE off IS NOT NULL"))
    block_size = int(query("SHOW block_size")[0][0])
    blocks_at = next(off for off, _, name in allocations if name == "Buffer Blocks")
    relation_of = {int(b): r for b, r in query(
        "SELECT b.bufferid, coalesce(c.oid::regclass::text, 'relfilenode ' || b.relfilenode) "
        "FROM pg_buffercache b LEFT JOIN pg_class c ON pg_relation_filenode(c.oid) = b.relfilenode "
        "AND b.reldatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())) "
        "WHERE b.relfilenode IS NOT NULL")}

    by_relation, by_allocation, buffers = collections.Counter(), collections.Counter(), set()
    for page in present_pages(pid, lo, hi):
        offset = page * PAGE
        name = next((n for off, size, n in allocations if off <= offset < off + size), "(unallocated)")
        if name == "Buffer Blocks":
            buffers.add((offset - blocks_at) // block_size + 1)
        else:
            by_allocation[name] += PAGE
    for buffer in buffers:
        by_relation[relation_of.get(buffer, "(free, or another database's)")] += block_size

    mb = lambda n: f"{n / 1e6:7.2f} MB"
    print(f"shared memory mapped by pid {pid}: {mb(sum(by_relation.values()) + sum(by_allocation.values()))}"
          f" ({len(buffers)} buffers of the pool)")
    for name, n in by_relation.most_common(top):
        print(f"  {mb(n)}  {name}")
    for name, n in by_allocation.most_common(3):
        print(f"  {mb(n)}  [{name}]")


if __name__ == "__main__":
    main()
