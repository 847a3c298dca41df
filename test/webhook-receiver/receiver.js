#!/usr/bin/env node
'use strict';
// A local webhook receiver for email_verify's tests. What it answers comes
// from the URL path, so one receiver serves many tests at once:
//   /ok                 200
//   /status/<code>      always <code>
//   /fail/<n>/...       500 to the first n requests of each event id, then 200
//   /retry-after/<s>/...  first request of each event id: 429, Retry-After: s; then 200
//                       (both count per full path, so tests can use their own)
//   /gone               410
//   /hang               never answers; the connection is closed after 60 s
//   /slow/<ms>          200 after ms milliseconds
//   GET /_log           every record so far, as a JSON array
//   GET /_stats         {requests, connections, distinct_event_ids, per_path}
// Each request is logged (--log FILE, one JSON line: received_at, method, path,
// connection, event_id, headers, body, status (null: hung), standard_ok,
// stripe_ok, errors): whether standardwebhooks and stripe accept its
// signature under any --secret. --fast logs and verifies nothing (counts only).
// Prints one JSON line first: {"port", "host", "tls", "ca_file", "pid"}.
// Bounded: exits after --max-seconds (default 600).
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const https = require('https');
const { execFileSync } = require('child_process');
const { verifyDelivery } = require('./verify');

const USAGE = `usage: receiver.js [--host 127.0.0.1] [--port 0] [--secret S]... [--log FILE]
                   [--tls [--cert FILE --key FILE | --tls-dir DIR]] [--max-seconds 600] [--fast]`;
const HANG_CLOSE_MS = 60_000;
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const MAX_SLOW_MS = 120_000;
const MAX_RECORDS_IN_MEMORY = 100_000;

function parseArgs(argv) {
  const o = { host: '127.0.0.1', port: 0, secrets: [], log: null, tls: false, cert: null, key: null, tlsDir: null, maxSeconds: 600, fast: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--host') o.host = value();
    else if (a === '--port') o.port = Number(value());
    else if (a === '--secret') o.secrets.push(value());
    else if (a === '--log') o.log = value();
    else if (a === '--tls') o.tls = true;
    else if (a === '--cert') o.cert = value();
    else if (a === '--key') o.key = value();
    else if (a === '--tls-dir') o.tlsDir = value();
    else if (a === '--max-seconds') o.maxSeconds = Number(value());
    else if (a === '--fast') o.fast = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error('--port: 0..65535');
  if (!(o.maxSeconds > 0)) throw new Error('--max-seconds: a positive number');
  if ((o.cert === null) !== (o.key === null)) throw new Error('--cert and --key go together');
  if (o.cert !== null || o.tlsDir !== null) o.tls = true;
  return o;
}

// A self-signed certificate for 127.0.0.1 and localhost, made by the openssl
// CLI in dir unless it is there already (a receiver restarted with the same
// --tls-dir keeps it); the sender under test trusts it as its CA.
function makeCertificate(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  if (fs.existsSync(cert) && fs.existsSync(key)) return { cert, key };
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert, key };
}

function eventIdOf(headers, body) {
  const fromHeader = headers['x-email-verify-event-id'] || headers['webhook-id'];
  if (fromHeader) return String(fromHeader);
  if (body) {
    try {
      const id = JSON.parse(body).event_id;
      if (id !== undefined) return String(id);
    } catch (_) { /* not JSON: no event id */ }
  }
  return '';
}

// What a path answers: {status, headers, delayMs, hang}, or null (404).
// seen(key) counts the requests of one event id on one path.
function decide(pathname, eventId, seen) {
  const parts = pathname.split('/').filter((p) => p !== '');
  const n = parts.length > 1 ? Number(parts[1]) : NaN;
  switch (parts[0]) {
    case 'ok':
      return { status: 200 };
    case 'gone':
      return { status: 410 };
    case 'hang':
      return { hang: true };
    case 'status':
      return Number.isInteger(n) && n >= 200 && n <= 599 ? { status: n } : { status: 400 };
    case 'slow':
      return Number.isInteger(n) && n >= 0 ? { status: 200, delayMs: Math.min(n, MAX_SLOW_MS) } : { status: 400 };
    case 'fail':
      if (!Number.isInteger(n) || n < 0) return { status: 400 };
      return { status: seen(`${pathname}\0${eventId}`) <= n ? 500 : 200 };
    case 'retry-after':
      if (!Number.isInteger(n) || n < 0) return { status: 400 };
      return seen(`${pathname}\0${eventId}`) === 1 ? { status: 429, headers: { 'Retry-After': String(n) } } : { status: 200 };
    default:
      return null;
  }
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`receiver.js: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }

  let tempDir = null;
  const cleanup = () => {
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
    tempDir = null;
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

  let tlsFiles = null;
  if (opts.tls) {
    if (opts.cert) {
      tlsFiles = { cert: opts.cert, key: opts.key };
    } else if (opts.tlsDir) {
      tlsFiles = makeCertificate(opts.tlsDir);
    } else {
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ev-webhook-receiver-'));
      tlsFiles = makeCertificate(tempDir);
    }
  }

  const stats = { requests: 0, connections: 0, per_path: {} };
  const eventIds = new Set();
  const counters = new Map();
  const seen = (key) => {
    const c = (counters.get(key) || 0) + 1;
    counters.set(key, c);
    return c;
  };
  const records = [];
  const logFd = opts.log ? fs.openSync(opts.log, 'a') : null;
  let nextConnectionId = 0;

  function record(entry) {
    if (records.length < MAX_RECORDS_IN_MEMORY) records.push(entry);
    if (logFd !== null) fs.writeSync(logFd, `${JSON.stringify(entry)}\n`);
  }

  function answer(res, status, headers, body) {
    const text = body === undefined ? `{"status":${status}}\n` : body;
    res.writeHead(status, {
      'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...(headers || {}),
    });
    res.end(text);
  }

  function control(req, res, pathname) {
    if (req.method !== 'GET') return answer(res, 405);
    if (pathname === '/_log') return answer(res, 200, {}, JSON.stringify(records));
    if (pathname === '/_stats') {
      return answer(res, 200, {}, JSON.stringify({ ...stats, distinct_event_ids: eventIds.size }));
    }
    return answer(res, 404);
  }

  function respond(req, res, pathname, eventId, body, tooLarge) {
    stats.requests += 1;
    stats.per_path[pathname] = (stats.per_path[pathname] || 0) + 1;
    if (eventId) eventIds.add(eventId);
    const what = tooLarge ? { status: 413 } : decide(pathname, eventId, seen) || { status: 404 };
    if (!opts.fast) {
      const entry = {
        received_at: new Date().toISOString(), method: req.method, path: req.url,
        connection: req.socket.evConnectionId, event_id: eventId, headers: req.headers, body,
        status: what.hang ? null : what.status,
      };
      Object.assign(entry, verifyDelivery(opts.secrets, body, req.headers));
      record(entry);
    }
    if (what.hang) {
      setTimeout(() => req.socket.destroy(), HANG_CLOSE_MS).unref();
      return;
    }
    if (what.delayMs) {
      setTimeout(() => answer(res, what.status, what.headers), what.delayMs);
    } else {
      answer(res, what.status, what.headers);
    }
  }

  function handle(req, res) {
    const pathname = new URL(req.url, 'http://receiver').pathname;
    if (pathname.startsWith('/_')) {
      req.resume();
      req.on('end', () => control(req, res, pathname));
      return;
    }
    if (opts.fast) {
      // Counts only: the body is drained, never kept nor verified.
      req.resume();
      req.on('end', () => respond(req, res, pathname, eventIdOf(req.headers, ''), '', false));
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      respond(req, res, pathname, eventIdOf(req.headers, body), body, size > MAX_BODY_BYTES);
    });
  }

  const server = tlsFiles
    ? https.createServer({ cert: fs.readFileSync(tlsFiles.cert), key: fs.readFileSync(tlsFiles.key) }, handle)
    : http.createServer(handle);
  // Keep-alive: a sender that reuses its connections keeps them for a minute.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  // A TLS server's requests arrive on the socket 'secureConnection' names,
  // not the TCP one 'connection' does.
  server.on(tlsFiles ? 'secureConnection' : 'connection', (socket) => {
    stats.connections += 1;
    socket.evConnectionId = ++nextConnectionId;
  });
  server.on('error', (e) => {
    process.stderr.write(`receiver.js: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    const { port } = server.address();
    process.stdout.write(`${JSON.stringify({
      port, host: opts.host, tls: Boolean(tlsFiles), ca_file: tlsFiles ? tlsFiles.cert : null, pid: process.pid,
    })}\n`);
  });
  setTimeout(() => process.exit(0), opts.maxSeconds * 1000);
}

main();
