#!/usr/bin/env node
'use strict';
// Asks standardwebhooks and stripe about one delivery, then about two
// deliveries that must fail: the body with one byte changed, and the
// original received 10 minutes after it was signed (past both libraries'
// 5-minute tolerance). Prints one JSON line:
//   {standard_ok, stripe_ok, tampered_refused_standard, tampered_refused_stripe,
//    stale_refused_standard, stale_refused_stripe, errors}
// The delivery is a receiver.js log record (judged at its received_at), or
// a raw body and a JSON object of headers (judged now).
// usage: check-libraries.js --secret S [--secret S2] (--record FILE | --body FILE --headers FILE)
//        (FILE "-" is standard input)
const fs = require('fs');
const { verifyDelivery } = require('./verify');

const STALE_AFTER_MS = 10 * 60 * 1000;

function readText(file) {
  return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
}

function parseArgs(argv) {
  const o = { secrets: [], record: null, body: null, headers: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
    const v = argv[++i];
    if (a === '--secret') o.secrets.push(v);
    else if (a === '--record') o.record = v;
    else if (a === '--body') o.body = v;
    else if (a === '--headers') o.headers = v;
    else throw new Error(`unknown option ${a}`);
  }
  if (o.secrets.length === 0) throw new Error('--secret is required');
  if ((o.record === null) === (o.body === null || o.headers === null)) {
    throw new Error('give --record, or --body and --headers');
  }
  return o;
}

// The same body with one byte changed (its middle one, to another ASCII
// character), so that only the signature can tell.
function tamper(body) {
  if (body.length === 0) return ' ';
  const i = Math.floor(body.length / 2);
  const replacement = body[i] === 'x' ? 'y' : 'x';
  return body.slice(0, i) + replacement + body.slice(i + 1);
}

// When the delivery was signed, by its own headers (seconds), in ms.
function signedAtMs(headers, fallbackMs) {
  const h = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = String(v);
  const fromStandard = Number.parseInt(h['webhook-timestamp'], 10);
  if (Number.isFinite(fromStandard)) return fromStandard * 1000;
  const m = /(?:^|,)\s*t=(\d+)/.exec(h['x-email-verify-signature'] || '');
  return m ? Number(m[1]) * 1000 : fallbackMs;
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`check-libraries.js: ${e.message}\n`);
    process.exit(2);
  }
  let body;
  let headers;
  let nowMs;
  if (opts.record !== null) {
    const record = JSON.parse(readText(opts.record));
    ({ body, headers } = record);
    nowMs = record.received_at ? Date.parse(record.received_at) : Date.now();
  } else {
    body = readText(opts.body);
    headers = JSON.parse(readText(opts.headers));
    nowMs = Date.now();
  }
  const original = verifyDelivery(opts.secrets, body, headers, nowMs);
  const tampered = verifyDelivery(opts.secrets, tamper(body), headers, nowMs);
  const stale = verifyDelivery(opts.secrets, body, headers, signedAtMs(headers, nowMs) + STALE_AFTER_MS);
  process.stdout.write(`${JSON.stringify({
    standard_ok: original.standard_ok,
    stripe_ok: original.stripe_ok,
    tampered_refused_standard: !tampered.standard_ok,
    tampered_refused_stripe: !tampered.stripe_ok,
    stale_refused_standard: !stale.standard_ok,
    stale_refused_stripe: !stale.stripe_ok,
    errors: original.errors,
  })}\n`);
}

main();
