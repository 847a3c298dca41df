#!/usr/bin/env python3
"""Samples how many connections one MX host has open, every few milliseconds.

Usage: stats_sampler.py [--control HOST:PORT --behaviour NAME] --host IP:PORT
                        [--interval-ms 20] [--seconds 120] --stop-file F --out F

Two views per sample, on a fixed schedule (ticks are not shifted by a slow
answer; a late sample is simply taken late):
  current  the scripted server's own count of open connections
           ("STATS <behaviour>" on its control port, one kept-open connection)
           (without --control: -1, for a host that has no control port)
  tcp      ESTABLISHED client sockets towards IP:PORT in /proc/net/tcp
           (the kernel's view, independent of the server)
Each sample is a line "<unix time> <current> <tcp> <max_concurrent>" in --out.
Stops when --stop-file exists or after --seconds, then prints one line:
  SAMPLER behaviour=.. samples=.. seconds=.. interval_ms_median=.. interval_ms_max=..
          max_current=.. max_tcp=.. max_concurrent=.. connections=.. rcpt=..
(max_concurrent: the server's exact maximum since its last RESET).
"""
import argparse
import json
import os
import socket
import statistics
import sys
import time


def proc_address(host_port):
    """'127.0.2.28:2625' as /proc/net/tcp writes it: '1C02007F:0A41'."""
    host, _, port = host_port.rpartition(":")
    packed = socket.inet_aton(host)
    return "%08X:%04X" % (int.from_bytes(packed, "little"), int(port))


def tcp_established_to(remote):
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[2] == remote and fields[3] == "01":
                n += 1
    return n


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--control")
    p.add_argument("--behaviour", default="-")
    p.add_argument("--host", required=True)
    p.add_argument("--interval-ms", type=float, default=20)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    reader = None
    if a.control:
        chost, _, cport = a.control.rpartition(":")
        conn = socket.create_connection((chost, int(cport)), timeout=5)
        reader = conn.makefile("r")
    remote = proc_address(a.host)
    step = a.interval_ms / 1000.0
    started = time.time()
    deadline = started + a.seconds
    times, last = [], {}
    max_current = max_tcp = 0
    with open(a.out, "w", buffering=1) as out:  # line-buffered: the first sample shows it runs
        tick = started
        while time.time() < deadline and not os.path.exists(a.stop_file):
            if reader:
                conn.sendall(f"STATS {a.behaviour}\n".encode())
                last = json.loads(reader.readline())[a.behaviour]
            else:
                last = {"current": -1, "max_concurrent": -1}
            tcp = tcp_established_to(remote)
            now = time.time()
            times.append(now)
            max_current = max(max_current, last["current"])
            max_tcp = max(max_tcp, tcp)
            out.write(f"{now:.6f} {last['current']} {tcp} {last['max_concurrent']}\n")
            tick += step
            pause = tick - time.time()
            if pause > 0:
                time.sleep(pause)
            else:
                tick = time.time()  # fell behind: the next tick from now
    gaps = [(b - a_) * 1000 for a_, b in zip(times, times[1:])]
    print(f"SAMPLER behaviour={a.behaviour} samples={len(times)} seconds={time.time() - started:.1f} "
          f"interval_ms_median={statistics.median(gaps) if gaps else 0:.1f} "
          f"interval_ms_max={max(gaps) if gaps else 0:.1f} max_current={max_current} max_tcp={max_tcp} "
          f"max_concurrent={last.get('max_concurrent', -1)} connections={last.get('connections', -1)} "
          f"rcpt={last.get('rcpt', -1)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
