#!/usr/bin/env python3
"""One asynchronous SMTP server playing every MX host of the internet world.

Usage: smtp_sim.py --hosts hosts.tsv [--listen 0.0.0.0:25] [--delay-ms 100]
                   [--tarpit-s 30] [--grey-s 5] [--stats DIR] [--control IP:PORT]
                   [--pidfile F]

It listens on 0.0.0.0:25 inside the benchmark's network namespace, so every
127.64.x.y address reaches it; the address the client dialled (getsockname)
picks the host, its domain and its behaviour from hosts.tsv (make_world.py).
Every reply leaves --delay-ms after its command arrived (the kernel has no
netem, so the round trip of a real server is played here), in order, so
pipelined commands get their replies together 100 ms later.

Behaviours (make_world.py's MIX): accepting and implicit_mx (known mailboxes
250, others 550 5.1.1), catch_all (every RCPT 250), greylisting (an unknown
user 550 at once, as Postfix checks recipients before its policy service; a
known one 450 4.7.1 until --grey-s seconds after the first try of the same
(client address, recipient)), banner421 (421 greeting, then close), tarpit
(every reply --tarpit-s late). Dead hosts never reach here (run.sh routes
their addresses as unreachable). No STARTTLS, no DATA (503): a probe ends
at RCPT.

What it counts, for the benchmark's politeness figure: per MX host the most
sessions open at once, and the most sessions begun and RCPTs received in
any 60 s (sliding window: the count of the last 60 s, taken at each new
session or RCPT); overall the most sessions open at once, replies a second.
--stats DIR: stats.json (summary and the worst host of each measure) and
hosts-stats.tsv (one line per host seen) rewritten every second.
--control: a loopback TCP port, one command a line: STATS (stats.json's
JSON), HOSTS (the TSV), RESET (counters and maxima back to zero), QUIT.
"""
import argparse
import asyncio
import collections
import json
import os
import resource
import time

IDLE_TIMEOUT = 60.0      # seconds without a command before a session is closed
MAX_LINE = 4096          # a longer line is a protocol error (RFC 5321: 512)
WINDOW = 60.0            # the "per minute" of the rates


class Host:
    __slots__ = ("ip", "domain", "behaviour", "mailboxes", "name", "open", "max_open",
                 "sessions", "rcpts", "session_times", "rcpt_times", "max_sessions_min",
                 "max_rcpts_min")

    def __init__(self, ip, domain, behaviour, mailboxes):
        self.ip, self.domain, self.behaviour = ip, domain, behaviour
        # One string per host, "\nname\n" searched in C: half a million
        # mailboxes cost a few megabytes this way.
        self.mailboxes = "\n" + mailboxes.replace(",", "\n") + "\n" if mailboxes else "\n"
        self.name = domain if behaviour == "implicit_mx" else "mx." + domain
        self.open = 0
        self.reset()

    def reset(self):
        self.max_open = self.open
        self.sessions = self.rcpts = self.max_sessions_min = self.max_rcpts_min = 0
        self.session_times = collections.deque()
        self.rcpt_times = collections.deque()

    def has(self, local):
        return "\n" + local + "\n" in self.mailboxes if "\n" not in local else False

    def stats_line(self):
        return (f"{self.ip}\t{self.domain}\t{self.behaviour}\t{self.sessions}\t{self.rcpts}\t"
                f"{self.max_open}\t{self.max_sessions_min}\t{self.max_rcpts_min}\n")


def windowed(times, now):
    """Adds an event at now; returns how many happened in the last WINDOW."""
    times.append(now)
    limit = now - WINDOW
    while times[0] < limit:
        times.popleft()
    return len(times)


class World:
    def __init__(self, hosts, args):
        self.hosts = hosts
        self.delay = args.delay_ms / 1000.0
        self.tarpit = args.tarpit_s
        self.grey = args.grey_s
        self.greylist = {}          # (client ip, recipient) -> first try (monotonic)
        self.sessions = set()
        self.started = time.time()
        self.reset()

    def reset(self):
        self.max_open = len(self.sessions)
        self.sessions_total = self.rcpts_total = self.replies_total = 0
        self.replies_last = self.replies_peak = 0
        self.replies_at_tick = 0
        self.unknown_host = 0
        self.seen = set(h for h in self.hosts.values() if h.open)
        for h in self.hosts.values():
            h.reset()

    def tick(self):
        """Once a second: the replies rate, idle sessions closed."""
        self.replies_last = self.replies_total - self.replies_at_tick
        self.replies_at_tick = self.replies_total
        self.replies_peak = max(self.replies_peak, self.replies_last)
        limit = time.monotonic() - IDLE_TIMEOUT
        for s in [s for s in self.sessions if s.last_activity < limit]:
            s.transport.close()

    def summary(self):
        def worst(attr):
            h = max(self.seen, key=lambda h: getattr(h, attr), default=None)
            return [getattr(h, attr), h.ip] if h else [0, None]
        return {
            "time": time.time(), "uptime_s": round(time.time() - self.started, 1),
            "sessions_open": len(self.sessions), "max_sessions_open": self.max_open,
            "sessions_total": self.sessions_total, "rcpts_total": self.rcpts_total,
            "replies_total": self.replies_total, "replies_last_s": self.replies_last,
            "replies_peak_s": self.replies_peak, "hosts_seen": len(self.seen),
            "unknown_host_sessions": self.unknown_host,
            "worst_host": {"max_open": worst("max_open"),
                           "max_sessions_per_min": worst("max_sessions_min"),
                           "max_rcpts_per_min": worst("max_rcpts_min")},
        }

    def hosts_tsv(self):
        head = "ip\tdomain\tbehaviour\tsessions\trcpts\tmax_open\tmax_sessions_per_min\tmax_rcpts_per_min\n"
        return head + "".join(h.stats_line() for h in sorted(self.seen, key=lambda h: h.ip))


class Session(asyncio.Protocol):
    def __init__(self, world):
        self.world = world
        self.delay = world.delay
        self.transport = None
        self.host = None
        self.buffer = b""
        self.out = collections.deque()   # (due, bytes, close after)
        self.timer = None
        self.mail = False
        self.closing = False
        self.last_activity = time.monotonic()

    # ---- connection ------------------------------------------------------
    def connection_made(self, transport):
        w = self.world
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        ip = transport.get_extra_info("sockname")[0]
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else "?"
        self.host = h = w.hosts.get(ip)
        w.sessions.add(self)
        w.sessions_total += 1
        w.max_open = max(w.max_open, len(w.sessions))
        if h is None:
            w.unknown_host += 1
            return self.reply("554 5.3.2 no host of this world at " + ip, close=True)
        w.seen.add(h)
        h.open += 1
        h.sessions += 1
        h.max_open = max(h.max_open, h.open)
        h.max_sessions_min = max(h.max_sessions_min, windowed(h.session_times, self.last_activity))
        self.delay = w.tarpit if h.behaviour == "tarpit" else w.delay
        if h.behaviour == "banner421":
            return self.reply(f"421 4.7.0 {h.name} Service not available, try again later", close=True)
        self.reply(f"220 {h.name} ESMTP")

    def connection_lost(self, exc):
        self.world.sessions.discard(self)
        if self.host is not None:
            self.host.open -= 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.out.clear()

    # ---- replies, each due delay after its command -----------------------
    def reply(self, text, close=False):
        due = self.loop.time() + self.delay
        self.out.append((due, (text + "\r\n").encode(), close))
        if close:
            self.closing = True
        if self.timer is None:
            self.timer = self.loop.call_at(due, self.flush)

    def flush(self):
        self.timer = None
        now = self.loop.time()
        chunks = []
        while self.out and self.out[0][0] <= now:
            _, data, close = self.out.popleft()
            chunks.append(data)
            self.world.replies_total += 1
            if close:
                self.transport.write(b"".join(chunks))
                self.transport.close()
                self.out.clear()
                return
        if chunks:
            self.transport.write(b"".join(chunks))
        if self.out:
            self.timer = self.loop.call_at(self.out[0][0], self.flush)

    # ---- commands --------------------------------------------------------
    def data_received(self, data):
        if self.closing or self.host is None:
            return
        self.last_activity = time.monotonic()
        self.buffer += data
        while not self.closing:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE:
                    self.reply("500 5.5.2 line too long", close=True)
                return
            line = self.buffer[:end].rstrip(b"\r").decode("utf-8", "replace")
            self.buffer = self.buffer[end + 1:]
            self.command(line)

    def command(self, line):
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        h = self.host
        if verb == "EHLO":
            self.mail = False
            return self.reply(f"250-{h.name}\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                              "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME")
        if verb == "HELO":
            self.mail = False
            return self.reply(f"250 {h.name}")
        if verb == "MAIL":
            if not arg.upper().startswith("FROM:"):
                return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            self.mail = True
            return self.reply("250 2.1.0 Ok")
        if verb == "RCPT":
            return self.rcpt(arg)
        if verb == "RSET":
            self.mail = False
            return self.reply("250 2.0.0 Ok")
        if verb == "NOOP":
            return self.reply("250 2.0.0 Ok")
        if verb == "QUIT":
            return self.reply("221 2.0.0 Bye", close=True)
        if verb == "DATA":
            return self.reply("503 5.5.1 Error: this world takes no mail")
        if verb == "VRFY":
            return self.reply("252 2.0.0 Send some mail, I'll try my best")
        return self.reply("502 5.5.2 Error: command not recognized")

    def rcpt(self, arg):
        w, h = self.world, self.host
        if not self.mail:
            return self.reply("503 5.5.1 Error: need MAIL command")
        if not arg.upper().startswith("TO:") or "<" not in arg or ">" not in arg:
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
        h.rcpts += 1
        w.rcpts_total += 1
        h.max_rcpts_min = max(h.max_rcpts_min, windowed(h.rcpt_times, self.last_activity))
        address = arg[arg.index("<") + 1:arg.index(">")].lower()
        local, _, domain = address.rpartition("@")
        if domain != h.domain:
            return self.reply(f"554 5.7.1 <{address}>: Relay access denied")
        b = h.behaviour
        if b == "catch_all":
            return self.reply("250 2.1.5 Ok")
        if not h.has(local):
            return self.reply(f"550 5.1.1 <{address}>: Recipient address rejected: "
                              "User unknown in virtual mailbox table")
        if b == "greylisting":
            key = (self.peer, address)
            first = w.greylist.setdefault(key, self.last_activity)
            if self.last_activity - first < w.grey:
                return self.reply(f"450 4.7.1 <{address}>: Recipient address rejected: "
                                  f"Greylisted, please try again in {w.grey:g} seconds")
        return self.reply("250 2.1.5 Ok")


def load_hosts(path):
    hosts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            ip, domain, behaviour, mailboxes = line.rstrip("\n").split("\t")
            if behaviour not in ("dead", "nxdomain", "no_mail_server", "null_mx"):
                hosts[ip] = Host(ip, domain, behaviour, mailboxes)
    return hosts


def write_atomic(path, text):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


async def control_client(reader, writer, world):
    try:
        for _ in range(1000):  # commands per connection, bounded
            line = await asyncio.wait_for(reader.readline(), 60)
            cmd = line.decode("ascii", "replace").strip().upper()
            if cmd == "STATS":
                writer.write((json.dumps(world.summary()) + "\n").encode())
            elif cmd == "HOSTS":
                writer.write((world.hosts_tsv() + ".\n").encode())
            elif cmd == "RESET":
                world.reset()
                writer.write(b"OK\n")
            else:
                break
            await writer.drain()
    except (asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


def split(hostport):
    host, _, port = hostport.rpartition(":")
    return host, int(port)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--listen", default="0.0.0.0:25")
    ap.add_argument("--delay-ms", type=float, default=100.0)
    ap.add_argument("--tarpit-s", type=float, default=30.0)
    ap.add_argument("--grey-s", type=float, default=5.0)
    ap.add_argument("--stats")
    ap.add_argument("--control")
    ap.add_argument("--pidfile")
    args = ap.parse_args()
    # Thousands of sessions at once: as many descriptors as the hard limit allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    world = World(load_hosts(args.hosts), args)
    loop = asyncio.get_running_loop()
    host, port = split(args.listen)
    await loop.create_server(lambda: Session(world), host, port, backlog=4096, reuse_address=True)
    if args.control:
        chost, cport = split(args.control)
        await asyncio.start_server(lambda r, w: control_client(r, w, world), chost, cport)
    if args.pidfile:
        write_atomic(args.pidfile, f"{os.getpid()}\n")
    while True:
        await asyncio.sleep(1)
        world.tick()
        if args.stats:
            write_atomic(os.path.join(args.stats, "stats.json"), json.dumps(world.summary()) + "\n")
            write_atomic(os.path.join(args.stats, "hosts-stats.tsv"), world.hosts_tsv())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
