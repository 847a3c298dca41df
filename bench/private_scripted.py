#!/usr/bin/env python3
"""A private instance of the test world's scripted SMTP server, for benches.

Usage: private_scripted.py --port N --rcpt-log FILE --behaviours FILE
                           --cert CERT --key KEY --control HOST:PORT [--pidfile F]

Runs testworld/scripted_smtp.py itself (imported, unchanged) on port N of the
same addresses, with a control port and counters of its own: with
email_verify.smtp_port = N the world's DNS names lead a prober here, and no
test suite sharing the world's server (port 25) moves these counters.
Every RCPT TO it receives is also written to FILE as one line
"<unix time, microseconds> <behaviour> <recipient>", stamped when the server
reads the command, so a bench can count RCPTs in any window of time as the host saw them.
"""
import asyncio
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ left in testworld/
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testworld"))
import scripted_smtp  # noqa: E402  (found through the path above)


def main():
    args = sys.argv[1:]
    port = rcpt_log = None
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--port" and i + 1 < len(args):
            port = int(args[i + 1])
            i += 2
        elif args[i] == "--rcpt-log" and i + 1 < len(args):
            rcpt_log = args[i + 1]
            i += 2
        else:
            rest.append(args[i])
            i += 1
    if port is None or rcpt_log is None or "--control" not in rest:
        sys.exit(__doc__)
    # Port 25 would be the shared world's: never that.
    if port == 25:
        sys.exit("private_scripted.py: --port must not be 25 (the shared world's)")
    scripted_smtp.SMTP_PORT = port

    log = open(rcpt_log, "a", buffering=1)  # line-buffered: one write per RCPT
    answer_rcpt = scripted_smtp.Session.do_RCPT

    async def do_RCPT(self, arg):
        rcpt = scripted_smtp.mailbox(arg, "TO") or "-"
        log.write(f"{time.time():.6f} {self.behaviour} {rcpt.replace(' ', '_')}\n")
        return await answer_rcpt(self, arg)

    scripted_smtp.Session.do_RCPT = do_RCPT
    sys.argv = [sys.argv[0]] + rest
    try:
        asyncio.run(scripted_smtp.main())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
