#!/usr/bin/env python3
"""Scripted SMTP server of the test world: the odd servers Postfix cannot play.

Usage: scripted_smtp.py --behaviours FILE --cert CERT --key KEY [--pidfile F]
                        [--control HOST:PORT] [-v]

Listens on port 25 of every address in the behaviours file (see
behaviours.txt); what a connection gets is chosen by the local address the
client connected to. Standard library only (asyncio), so hundreds of
concurrent connections cost nothing but sockets. It never accepts a
message: DATA is answered with 503 (and counted).

Control port 127.0.2.1:8025 (--control: another, for a second server of
one's own on other addresses), one command per line:
  STATS          -> one JSON line {behaviour: {address, connections, current,
                    max_concurrent, rcpt, data, tls, commands: {VERB: n}}}
  STATS <name>   -> the same for one behaviour
  RESET          -> OK (all counters back to zero)
"""
import argparse
import asyncio
import json
import os
import ssl
import sys

SMTP_PORT = 25
CONTROL = "127.0.2.1:8025"
USERS = {"alice", "bob", "info"}          # exist on every scripted server
STARTTLS_BEHAVIOURS = {"tlsrequired", "tlsoffered"}
IDLE_TIMEOUT = 300                        # seconds, as Postfix's smtpd_timeout
KNOWN_VERBS = {"EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "DATA", "RSET",
               "NOOP", "QUIT", "VRFY", "BDAT"}
VERBOSE = False


class Closed(Exception):
    """The script says: close the connection now (without a reply)."""


class Stats:
    def __init__(self, address):
        self.address = address
        self.reset()

    def reset(self):
        # "current" is a fact, not a counter: connections still open stay.
        self.current = getattr(self, "current", 0)
        self.max_concurrent = self.current
        self.connections = 0
        self.rcpt = 0
        self.data = 0
        self.tls = 0
        self.commands = {}

    def as_dict(self):
        return {"address": self.address, "connections": self.connections,
                "current": self.current, "max_concurrent": self.max_concurrent,
                "rcpt": self.rcpt, "data": self.data, "tls": self.tls,
                "commands": dict(self.commands)}


def log(*args):
    if VERBOSE:
        print(*args, flush=True)


def mailbox(arg, keyword):
    """'FROM:<a@b> SIZE=1' -> 'a@b' (None when the syntax is wrong)."""
    if not arg.upper().startswith(keyword + ":"):
        return None
    rest = arg[len(keyword) + 1:].strip()
    if not rest.startswith("<") or ">" not in rest:
        return None
    return rest[1:rest.index(">")]


class Session:
    """One SMTP connection to one behaviour."""

    def __init__(self, behaviour, domain, stats, tls_context, reader, writer):
        self.behaviour = behaviour
        self.host = "mx." + domain
        self.stats = stats
        self.tls_context = tls_context
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer_ip = peer[0] if peer else "unknown"
        self.helo = False
        self.tls_active = False
        self.rcpts_in_session = 0
        self.reset_transaction()

    def reset_transaction(self):
        self.mail_from = None
        self.rcpts_in_transaction = 0

    async def send(self, *lines):
        """Sends one reply; several lines make a multi-line reply."""
        if self.behaviour == "multiline" and len(lines) == 1:
            lines = multiline(lines[0])
        text = "".join(
            (line[:3] + ("-" if i < len(lines) - 1 else " ") + line[4:] + "\r\n")
            for i, line in enumerate(lines))
        log(self.behaviour, "S:", text.rstrip())
        self.writer.write(text.encode())
        await self.writer.drain()

    async def run(self):
        b = self.behaviour
        if b == "tarpit":
            # Accept, say nothing, hold the socket until the client gives up.
            while await self.reader.read(4096):
                pass
            return
        if b == "banner421":
            await self.send("421 4.3.2 Service not available, closing transmission channel")
            return
        if b == "slowbanner":
            await asyncio.sleep(2)
        if b == "banner554":
            # RFC 5321 3.1: after a 554 greeting the server waits for QUIT
            # and answers anything else with 503.
            await self.send("554 5.7.1 Service unavailable; your IP is listed on a blocklist")
            while True:
                verb, _ = await self.command()
                if verb == "QUIT":
                    await self.send("221 2.0.0 Bye")
                    return
                await self.send("503 5.5.1 Error: bad sequence of commands")
        if b == "multiline":
            await self.send(f"220 {self.host} ESMTP scripted test server ({b})",
                            "220 this greeting has",
                            "220 three lines")
        else:
            await self.send(f"220 {self.host} ESMTP scripted test server ({b})")
        while True:
            verb, arg = await self.command()
            handler = getattr(self, "do_" + verb, None) if verb in KNOWN_VERBS else None
            if handler is None:
                await self.send("502 5.5.2 Error: command not recognized")
                continue
            if await handler(arg) == "quit":
                return

    async def command(self):
        """Reads one command line. Pipelined commands simply wait in the
        stream buffer, so they are answered one by one, in order."""
        try:
            line = await asyncio.wait_for(self.reader.readline(), IDLE_TIMEOUT)
        except asyncio.TimeoutError:
            await self.send("421 4.4.2 Error: timeout exceeded")
            raise Closed()
        except (asyncio.LimitOverrunError, ValueError):
            await self.send("500 5.5.2 Error: line too long")
            raise Closed()
        if not line:
            raise Closed()
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        log(self.behaviour, "C:", text)
        verb, _, arg = text.strip().partition(" ")
        verb = verb.upper()
        counted = verb if verb in KNOWN_VERBS else "OTHER"
        self.stats.commands[counted] = self.stats.commands.get(counted, 0) + 1
        return verb, arg.strip()

    async def do_EHLO(self, arg):
        b = self.behaviour
        if b == "dropehlo":
            raise Closed()
        if b == "noehlo":
            await self.send("502 5.5.2 Error: command not recognized")
            return
        if not arg:
            await self.send("501 5.5.4 Syntax: EHLO hostname")
            return
        self.helo = True
        self.reset_transaction()
        lines = [f"250 {self.host} Hello {arg}"]
        if b != "nopipelining":
            lines.append("250 PIPELINING")
        lines += ["250 SIZE 10240000", "250 8BITMIME", "250 ENHANCEDSTATUSCODES"]
        if b in STARTTLS_BEHAVIOURS and not self.tls_active:
            lines.append("250 STARTTLS")
        await self.send(*lines)

    async def do_HELO(self, arg):
        if not arg:
            await self.send("501 5.5.4 Syntax: HELO hostname")
            return
        self.helo = True
        self.reset_transaction()
        await self.send(f"250 {self.host}")

    async def do_STARTTLS(self, arg):
        if self.behaviour not in STARTTLS_BEHAVIOURS:
            await self.send("502 5.5.2 Error: command not recognized")
            return
        if self.tls_active:
            await self.send("554 5.5.1 Error: TLS already active")
            return
        if arg:
            await self.send("501 5.5.4 Syntax: STARTTLS")
            return
        await self.send("220 2.0.0 Ready to start TLS")
        try:
            await self.writer.start_tls(self.tls_context, ssl_handshake_timeout=10)
        except (ssl.SSLError, ConnectionError, asyncio.TimeoutError, OSError):
            raise Closed()
        self.stats.tls += 1
        # RFC 3207: forget everything said before the handshake.
        self.tls_active = True
        self.helo = False
        self.reset_transaction()

    async def do_MAIL(self, arg):
        if not self.helo:
            await self.send("503 5.5.1 Error: send HELO/EHLO first")
            return
        if self.behaviour == "tlsrequired" and not self.tls_active:
            await self.send("530 5.7.0 Must issue a STARTTLS command first")
            return
        if self.mail_from is not None:
            await self.send("503 5.5.1 Error: nested MAIL command")
            return
        sender = mailbox(arg, "FROM")
        if sender is None:
            await self.send("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        if self.behaviour == "blocklisted":
            await self.send("554 5.7.1 Service unavailable; Client host "
                            f"[{self.peer_ip}] blocked using zen.spamhaus.org")
            return
        self.mail_from = sender
        await self.send("250 2.1.0 Ok")

    async def do_RCPT(self, arg):
        self.stats.rcpt += 1
        b = self.behaviour
        if b == "drop_rcpt":
            raise Closed()
        if self.mail_from is None:
            await self.send("503 5.5.1 Error: need MAIL command")
            return
        rcpt = mailbox(arg, "TO")
        if rcpt is None:
            await self.send("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        self.rcpts_in_transaction += 1
        self.rcpts_in_session += 1
        if b == "slowrcpt":
            await asyncio.sleep(0.2)
        await self.send(*self.rcpt_reply(rcpt))
        if b == "midclose421" and self.rcpts_in_session == 2:
            return "quit"

    def rcpt_reply(self, rcpt):
        b = self.behaviour
        local = rcpt.rpartition("@")[0].lower()
        if b == "midclose421" and self.rcpts_in_session == 2:
            return ["421 4.7.0 Too many errors, closing connection"]
        if b == "toomany" and self.rcpts_in_transaction > 2:
            return ["452 4.5.3 Too many recipients"]
        if b == "microsoft" and self.rcpts_in_transaction >= 2:
            return ["452 4.5.3 Too many recipients"]
        if b == "tempfail":
            return ["451 4.3.0 Temporary local problem, try again later"]
        if b == "catchall":
            return ["250 2.1.5 OK"]
        if b == "full" and local == "full":
            return ["552 5.2.2 Mailbox full"]
        if b == "full" and local == "quota":
            return ["452 4.2.2 The recipient's inbox is out of storage space"]
        if b == "disabled" and local == "gone":
            return ["550 5.2.1 The email account that you tried to reach is disabled"]
        if b == "disabled" and local == "inactive":
            return ["550 mailbox inactive"]
        if local in USERS:
            if b == "multiline":
                return ["250 2.1.5 ok", "250 2.1.5 recipient ok"]
            return ["250 2.1.5 Ok"]
        if b == "multiline":
            return [f"550 5.1.1 <{rcpt}>: Recipient address rejected:",
                    "550 5.1.1 User unknown"]
        return [f"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"]

    async def do_DATA(self, arg):
        self.stats.data += 1
        await self.send("503 5.5.1 Error: this test server accepts no message")

    async def do_BDAT(self, arg):
        self.stats.data += 1
        await self.send("503 5.5.1 Error: this test server accepts no message")
        raise Closed()  # the chunk that follows cannot be read as commands

    async def do_RSET(self, arg):
        self.reset_transaction()
        await self.send("250 2.0.0 Ok")

    async def do_NOOP(self, arg):
        await self.send("250 2.0.0 Ok")

    async def do_VRFY(self, arg):
        await self.send("252 2.0.0 Cannot VRFY user")

    async def do_QUIT(self, arg):
        await self.send("221 2.0.0 Bye")
        return "quit"


def multiline(line):
    """'250 2.0.0 Ok' -> two lines, for the multiline behaviour."""
    code, _, rest = line.partition(" ")
    first, _, _ = rest.partition(" ")
    enh = first + " " if first[:1].isdigit() and first.count(".") == 2 else ""
    return [line, f"{code} {enh}(end of multi-line reply)"]


class World:
    def __init__(self, behaviours, tls_context):
        self.behaviours = behaviours  # address -> (name, domain)
        self.tls_context = tls_context
        self.stats = {name: Stats(addr) for addr, (name, _) in behaviours.items()}

    async def smtp_client(self, reader, writer):
        local = writer.get_extra_info("sockname")[0]
        name, domain = self.behaviours[local]
        stats = self.stats[name]
        stats.connections += 1
        stats.current += 1
        stats.max_concurrent = max(stats.max_concurrent, stats.current)
        try:
            await Session(name, domain, stats, self.tls_context, reader, writer).run()
        except (Closed, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            stats.current -= 1
            writer.close()

    async def control_client(self, reader, writer):
        try:
            while line := await reader.readline():
                cmd, _, arg = line.decode(errors="replace").strip().partition(" ")
                cmd = cmd.upper()
                if cmd == "STATS" and not arg:
                    out = json.dumps({n: s.as_dict() for n, s in self.stats.items()})
                elif cmd == "STATS" and arg in self.stats:
                    out = json.dumps({arg: self.stats[arg].as_dict()})
                elif cmd == "RESET":
                    for s in self.stats.values():
                        s.reset()
                    out = "OK"
                elif cmd == "QUIT":
                    break
                else:
                    out = "ERR expected STATS [behaviour], RESET or QUIT"
                writer.write((out + "\n").encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


def read_behaviours(path):
    table = {}
    with open(path) as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if fields:
                name, address, domain = fields
                table[address] = (name, domain)
    return table


async def main():
    global VERBOSE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--behaviours", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--pidfile")
    p.add_argument("--control", default=CONTROL, help="HOST:PORT of the control port")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    VERBOSE = args.verbose

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    world = World(read_behaviours(args.behaviours), tls)

    control_host, _, control_port = args.control.rpartition(":")
    servers = [await asyncio.start_server(world.control_client, control_host, int(control_port))]
    for address in world.behaviours:
        servers.append(await asyncio.start_server(
            world.smtp_client, address, SMTP_PORT, backlog=1024))
    # Written only once every socket is bound: a pid file means "listening".
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(args.pidfile + ".tmp", args.pidfile)
    print(f"scripted_smtp: {len(world.behaviours)} behaviours listening, "
          f"control on {args.control}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    if sys.version_info < (3, 11):
        sys.exit("scripted_smtp.py needs Python 3.11 (StreamWriter.start_tls)")
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
