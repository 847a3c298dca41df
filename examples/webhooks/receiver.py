#!/usr/bin/env python3
"""A minimal receiver for email_verify's webhooks, Python 3 standard library only.

- Checks X-Email-Verify-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
  over the raw body, in constant time; any of several v1 values may match (the
  sender signs with the old and the new secret while a secret is rotated).
- Refuses a timestamp more than 5 minutes away from now (a replayed delivery).
- Handles each event once: the sender retries an event under the same
  event_id, so ids already handled are answered 200 and skipped (sqlite).
- Answers fast; real work belongs in a queue.

usage: EMAIL_VERIFY_WEBHOOK_SECRET=whsec_... receiver.py [--port 8000] [--db events.sqlite]
"""
import argparse
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1 << 20


def signature_ok(secret, header, body, now):
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.encode())
    if timestamp is None or abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
    return any(hmac.compare_digest(expected, s) for s in signatures)


class Events:
    """Event ids already handled, kept in sqlite so that a restart remembers them."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY)")
        self.lock = threading.Lock()

    def first_time(self, event_id):
        with self.lock, self.db:
            cur = self.db.execute("INSERT OR IGNORE INTO handled VALUES (?)", (event_id,))
            return cur.rowcount == 1


def make_handler(secret, events):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def answer(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return self.answer(413, {"error": "too large"})
            body = self.rfile.read(length)
            header = self.headers.get("X-Email-Verify-Signature", "")
            if not signature_ok(secret, header, body, int(time.time())):
                return self.answer(400, {"error": "bad signature"})
            event = json.loads(body)
            if not events.first_time(str(event["event_id"])):
                return self.answer(200, {"duplicate": True})
            print(json.dumps({"handled": event["event_type"], "job_id": event.get("job_id")}), flush=True)
            return self.answer(200, {"duplicate": False})

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--db", default="events.sqlite")
    args = parser.parse_args()
    secret = os.environ["EMAIL_VERIFY_WEBHOOK_SECRET"]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(secret, Events(args.db)))
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
