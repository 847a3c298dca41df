#!/usr/bin/env python3
"""DNS forwarder that adds a fixed delay to every answer (default 50 ms).

Usage: dns_proxy.py --listen IP:PORT --upstream IP:PORT [--delay-ms 50]
                    [--pidfile F] [--stats F]

The kernel here has no netem, so the latency a real resolver costs is added
here: each answer from the upstream (the world's private unbound) is held
for --delay-ms, then sent on. Asynchronous: thousands of queries may be in
flight at once, each delayed on its own.

UDP queries go upstream over one UDP socket, their IDs rewritten so answers
for clients that chose the same ID do not mix. TCP clients (length-prefixed
messages, RFC 7766) are served through the same UDP path; the world's
answers are small, so upstream truncation does not happen in practice (a
truncated answer is passed on as it is, TC bit set).

--stats: a JSON file rewritten every second (queries, answers, dropped,
in flight, the measured delay).
"""
import argparse
import asyncio
import json
import os
import socket
import struct
import time

SOCKET_BUFFER = 4 << 20  # bursts of thousands of queries must not overflow the sockets
PENDING_TIMEOUT = 5.0    # an upstream answer later than this is dropped
MAX_IN_FLIGHT = 60000    # below the 65,536 IDs of the upstream socket


def widen(transport):
    """Socket buffers up to SOCKET_BUFFER (the kernel caps them at rmem_max)."""
    sock = transport.get_extra_info("socket")
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)


class Counters:
    def __init__(self):
        self.queries = self.answers = self.dropped = self.tcp_queries = 0
        self.delay_sum = 0.0


class Upstream(asyncio.DatagramProtocol):
    """The one socket to unbound; pending maps our ID to who asked."""

    def __init__(self, delay, counters):
        self.delay = delay
        self.counters = counters
        self.pending = {}   # upstream id -> (reply function, client id, asked at)
        self.next_id = 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        widen(transport)

    def ask(self, query, reply):
        if len(query) < 12 or len(self.pending) >= MAX_IN_FLIGHT:
            self.counters.dropped += 1
            return
        # The first ID not in use; bounded because pending < 65,536.
        while self.next_id in self.pending:
            self.next_id = (self.next_id + 1) & 0xFFFF
        qid = self.next_id
        self.next_id = (self.next_id + 1) & 0xFFFF
        client_id = query[:2]
        self.pending[qid] = (reply, client_id, time.monotonic())
        self.counters.queries += 1
        self.transport.sendto(struct.pack("!H", qid) + query[2:])

    def datagram_received(self, data, addr):
        if len(data) < 12:
            return
        entry = self.pending.pop(struct.unpack("!H", data[:2])[0], None)
        if entry is None:
            return  # expired, or not ours
        reply, client_id, asked = entry
        answer = client_id + data[2:]
        loop = asyncio.get_running_loop()
        loop.call_later(self.delay, self.deliver, reply, answer, asked)

    def deliver(self, reply, answer, asked):
        self.counters.answers += 1
        self.counters.delay_sum += time.monotonic() - asked
        reply(answer)

    def expire(self):
        limit = time.monotonic() - PENDING_TIMEOUT
        stale = [k for k, (_, _, at) in self.pending.items() if at < limit]
        for k in stale:
            del self.pending[k]
        self.counters.dropped += len(stale)


class UdpFront(asyncio.DatagramProtocol):
    def __init__(self, upstream):
        self.upstream = upstream
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        widen(transport)

    def datagram_received(self, data, addr):
        transport = self.transport
        self.upstream.ask(data, lambda answer: transport.sendto(answer, addr))


async def tcp_client(reader, writer, upstream):
    def reply(answer):
        if not writer.is_closing():
            writer.write(struct.pack("!H", len(answer)) + answer)
    try:
        while True:
            # An idle TCP client is dropped after 30 s (RFC 7766 suggests seconds).
            head = await asyncio.wait_for(reader.readexactly(2), 30)
            query = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", head)[0]), 30)
            upstream.counters.tcp_queries += 1
            upstream.ask(query, reply)
    except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        # Answers still on their way are let go: the client left.
        writer.close()


def split(hostport):
    host, _, port = hostport.rpartition(":")
    return host, int(port)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--pidfile")
    ap.add_argument("--stats")
    args = ap.parse_args()
    loop = asyncio.get_running_loop()
    counters = Counters()
    _, upstream = await loop.create_datagram_endpoint(
        lambda: Upstream(args.delay_ms / 1000.0, counters), remote_addr=split(args.upstream))
    await loop.create_datagram_endpoint(lambda: UdpFront(upstream), local_addr=split(args.listen))
    host, port = split(args.listen)
    await asyncio.start_server(lambda r, w: tcp_client(r, w, upstream), host, port, backlog=1024)
    if args.pidfile:
        with open(args.pidfile, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
    while True:
        await asyncio.sleep(1)
        upstream.expire()
        if args.stats:
            c = counters
            data = {"queries": c.queries, "tcp_queries": c.tcp_queries, "answers": c.answers,
                    "dropped": c.dropped, "in_flight": len(upstream.pending),
                    "mean_delay_ms": round(1000 * c.delay_sum / c.answers, 2) if c.answers else None}
            with open(args.stats + ".tmp", "w", encoding="ascii") as f:
                json.dump(data, f)
            os.replace(args.stats + ".tmp", args.stats)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
