#!/usr/bin/env python3
"""Waits until every service of the test world answers.

Usage: wait_ready.py BEHAVIOURS_FILE [--no-ipv6] [--reset] [--timeout SECONDS] [-v]

--reset then zeroes the scripted server's counters, so that a server just
started counts the tests, not this check. (Not on every start: a test suite
running at the same time may be reading them.)

Exit 0 when everything answered, 1 (with the list of what did not) when the
time ran out. All checks run at once, each retried until it passes.
"""
import argparse
import asyncio
import json
import random
import socket
import struct
import sys

DNS = ("127.0.53.1", 53)
POSTFIX = ["127.0.1.1", "127.0.1.2"]
POSTGREY = ("127.0.0.1", 10023)
CONTROL = ("127.0.2.1", 8025)
# What the scripted server says first, where it is not "220".
FIRST_WORD = {"banner421": "421", "banner554": "554",
              "tarpit": None, "slowbanner": None}  # None: a connect is enough


def dns_answers(name="strict.test", qtype=15):
    """One UDP query; True when the reply is NOERROR with an answer."""
    qid = random.randrange(65536)
    query = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    query += struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(query, DNS)
        reply = s.recv(4096)
    rid, flags, _, ancount = struct.unpack(">HHHH", reply[:8])
    return rid == qid and flags & 0xF == 0 and ancount > 0


async def check_dns():
    return await asyncio.to_thread(dns_answers)


async def check_tcp(host, port, first_word="220"):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1)
    try:
        if first_word is None:
            return True
        line = await asyncio.wait_for(reader.readline(), 2)
        if not line.startswith(first_word.encode()):
            return False
        if first_word == "220":
            writer.write(b"QUIT\r\n")  # leave the server's log tidy
            await writer.drain()
        return True
    finally:
        writer.close()


async def control(command):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(*CONTROL), 1)
    try:
        writer.write(command.encode() + b"\n")
        return (await asyncio.wait_for(reader.readline(), 1)).decode().strip()
    finally:
        writer.close()


async def check_control():
    return isinstance(json.loads(await control("STATS")), dict)


async def until_ok(label, make_check, deadline, verbose):
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() < deadline:
        try:
            if await make_check():
                if verbose:
                    print(f"{loop.time() - started:5.2f}s {label}")
                return None
        except (OSError, asyncio.TimeoutError, ValueError):
            pass
        await asyncio.sleep(0.1)
    return label


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("behaviours")
    p.add_argument("--no-ipv6", action="store_true")
    p.add_argument("--reset", action="store_true")
    p.add_argument("--timeout", type=float, default=8)
    p.add_argument("-v", "--verbose", action="store_true", help="say when each answered")
    args = p.parse_args()

    checks = {"dns 127.0.53.1:53": check_dns,
              "postgrey 127.0.0.1:10023": lambda: check_tcp(*POSTGREY, None),
              "scripted control 127.0.2.1:8025": check_control}
    for host in POSTFIX + ([] if args.no_ipv6 else ["::1"]):
        checks[f"postfix [{host}]:25"] = lambda h=host: check_tcp(h, 25)
    with open(args.behaviours) as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if fields:
                name, address, _ = fields
                word = FIRST_WORD.get(name, "220")
                checks[f"scripted {name} {address}:25"] = \
                    lambda a=address, w=word: check_tcp(a, 25, w)

    deadline = asyncio.get_running_loop().time() + args.timeout
    failed = [f for f in await asyncio.gather(
        *(until_ok(label, check, deadline, args.verbose) for label, check in checks.items())) if f]
    if failed:
        print("not answering: " + ", ".join(failed), file=sys.stderr)
        return 1
    if args.reset:
        await control("RESET")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
