#!/usr/bin/env python3
"""Load generator for smtp_sim.py: how many replies a second it sustains.

Usage (inside the namespace): load_sim.py --world DIR [--sessions 2000]
        [--pipeline 1] [--seconds 20] [--hosts-per-session 1]

Opens --sessions sessions at once, spread over the accepting and catch-all
hosts (one session per host while hosts last, so this ignores the prober's
politeness on purpose: it measures the server, not the prober), and keeps
each busy: EHLO, MAIL, then RCPTs in batches of --pipeline (pipelined, as
our client does), RSET and MAIL again every 50 RCPTs. Prints the replies
received per second; smtp_sim's own stats (replies_last_s, replies_peak_s)
say the same from the server's side.
"""
import argparse
import asyncio
import csv
import os
import time


class Load(asyncio.Protocol):
    def __init__(self, domain, pipeline, counter):
        self.domain = domain
        self.pipeline = pipeline
        self.counter = counter
        self.buffer = b""
        self.waiting = 1         # the banner
        self.stage = "banner"
        self.rcpts = 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
            if len(line) > 3 and line[3:4] == b"-":
                continue  # a multi-line reply goes on
            self.counter[0] += 1
            self.waiting -= 1
            if self.waiting == 0:
                self.next()

    def send(self, *commands):
        self.waiting = len(commands)
        self.transport.write("".join(c + "\r\n" for c in commands).encode())

    def next(self):
        if self.stage == "banner":
            self.stage = "ehlo"
            return self.send("EHLO load.test")
        if self.stage in ("ehlo", "rset"):
            self.stage = "mail"
            return self.send("MAIL FROM:<>")
        if self.rcpts >= 50:
            self.rcpts = 0
            self.stage = "rset"
            return self.send("RSET")
        self.stage = "rcpt"
        self.rcpts += self.pipeline
        self.send(*[f"RCPT TO:<load{self.rcpts + i}@{self.domain}>" for i in range(self.pipeline)])


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", required=True)
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    with open(os.path.join(args.world, "domains.csv"), encoding="utf-8") as f:
        hosts = [(r["domain"], r["mx_ip"]) for r in csv.DictReader(f)
                 if r["behaviour"] in ("accepting", "catch_all")]
    loop = asyncio.get_running_loop()
    counter = [0]
    transports = []
    for i in range(args.sessions):
        domain, ip = hosts[i % len(hosts)]
        t, _ = await loop.create_connection(lambda d=domain: Load(d, args.pipeline, counter), ip, 25)
        transports.append(t)
    opened = time.monotonic()
    last, rates = 0, []
    while time.monotonic() - opened < args.seconds:
        await asyncio.sleep(1)
        rates.append(counter[0] - last)
        last = counter[0]
        print(f"{len(rates):3d} s: {rates[-1]} replies/s", flush=True)
    for t in transports:
        t.close()
    steady = rates[2:] or rates
    print(f"sessions {args.sessions}, pipeline {args.pipeline}: mean {sum(steady) / len(steady):.0f} "
          f"replies/s after the first 2 s, peak {max(rates)}")


if __name__ == "__main__":
    asyncio.run(main())
