#!/usr/bin/env node
'use strict';
// A minimal receiver for email_verify's webhooks, Node.js standard library only.
// - Checks X-Email-Verify-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//   over the raw body with crypto.timingSafeEqual; any of several v1 values may
//   match (the sender signs with the old and the new secret during a rotation).
// - Refuses a timestamp more than 5 minutes away from now (a replayed delivery).
// - Handles each event once: the sender retries an event under the same
//   event_id. The ids live in memory here; keep them in your database (a
//   unique key) so that a restart remembers them.
// usage: EMAIL_VERIFY_WEBHOOK_SECRET=whsec_... receiver.js [--port 8000]
const crypto = require('crypto');
const http = require('http');

const TOLERANCE_SECONDS = 300;
const MAX_BODY_BYTES = 1 << 20;
const secret = process.env.EMAIL_VERIFY_WEBHOOK_SECRET;
const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 8000;
const handled = new Set();
if (!secret) {
  console.error('set EMAIL_VERIFY_WEBHOOK_SECRET to the webhook\'s secret (whsec_...)');
  process.exit(2);
}

function signatureOk(header, body, now) {
  let timestamp = null;
  const signatures = [];
  for (const item of String(header || '').split(',')) {
    const [key, value = ''] = item.trim().split('=', 2);
    if (key === 't' && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === 'v1') signatures.push(Buffer.from(value));
  }
  if (timestamp === null || Math.abs(now - timestamp) > TOLERANCE_SECONDS) return false;
  const expected = Buffer.from(crypto.createHmac('sha256', secret)
    .update(`${timestamp}.`).update(body).digest('hex'));
  return signatures.some((s) => s.length === expected.length && crypto.timingSafeEqual(s, expected));
}

function answer(res, status, payload) {
  const data = JSON.stringify(payload);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= MAX_BODY_BYTES) chunks.push(c);
  });
  req.on('end', () => {
    if (req.method !== 'POST') return answer(res, 405, { error: 'POST only' });
    if (size > MAX_BODY_BYTES) return answer(res, 413, { error: 'too large' });
    const body = Buffer.concat(chunks);
    const now = Math.floor(Date.now() / 1000);
    if (!signatureOk(req.headers['x-email-verify-signature'], body, now)) {
      return answer(res, 400, { error: 'bad signature' });
    }
    const event = JSON.parse(body.toString('utf8'));
    if (handled.has(String(event.event_id))) return answer(res, 200, { duplicate: true });
    handled.add(String(event.event_id));
    console.log(JSON.stringify({ handled: event.event_type, job_id: event.job_id }));
    return answer(res, 200, { duplicate: false });
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
