'use strict';
// Asks the two libraries a receiver would use whether a delivery's signature
// holds: standardwebhooks (webhook-id/-timestamp/-signature, key = the
// base64 after "whsec_") and stripe (X-Email-Verify-Signature: t=,v1=, key =
// the secret string as it is). Shared by receiver.js and check-libraries.js
// so that both judge a delivery the same way.
const { Webhook } = require('standardwebhooks');
const Stripe = require('stripe');

const STRIPE_HEADER = 'x-email-verify-signature';
const TOLERANCE_SECONDS = 300;

function lowerCaseKeys(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers || {})) {
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

// standardwebhooks reads the clock through Date.now(); to judge "as if
// received at nowMs" the clock is swapped for the (synchronous) call only.
function withClock(nowMs, fn) {
  if (nowMs === undefined) return fn();
  const realNow = Date.now;
  Date.now = () => nowMs;
  try {
    return fn();
  } finally {
    Date.now = realNow;
  }
}

function standardAccepts(secret, body, headers, nowMs) {
  return withClock(nowMs, () => {
    new Webhook(secret).verify(body, headers);
    return true;
  });
}

function stripeAccepts(secret, body, headers, nowMs) {
  const header = headers[STRIPE_HEADER];
  if (!header) throw new Error(`missing ${STRIPE_HEADER}`);
  Stripe.webhooks.constructEvent(body, header, secret, TOLERANCE_SECONDS, undefined, nowMs);
  return true;
}

// One library against every secret: accepted when any secret verifies
// (a receiver in the middle of a rotation knows both). Returns [ok, errors].
function tryEach(check, secrets, body, headers, nowMs) {
  const errors = [];
  for (const secret of secrets) {
    try {
      if (check(secret, body, headers, nowMs)) return [true, []];
    } catch (e) {
      errors.push(String(e && e.message ? e.message : e));
    }
  }
  if (secrets.length === 0) errors.push('no secret given');
  return [false, errors];
}

// body: the raw string as received; headers: any case; nowMs: the clock to
// judge by (default: now). Returns {standard_ok, stripe_ok, errors}.
function verifyDelivery(secrets, body, headers, nowMs) {
  const h = lowerCaseKeys(headers);
  const [standardOk, standardErrors] = tryEach(standardAccepts, secrets, body, h, nowMs);
  const [stripeOk, stripeErrors] = tryEach(stripeAccepts, secrets, body, h, nowMs);
  const errors = [];
  for (const e of standardErrors) errors.push(`standardwebhooks: ${e}`);
  for (const e of stripeErrors) errors.push(`stripe: ${e}`);
  return { standard_ok: standardOk, stripe_ok: stripeOk, errors };
}

module.exports = { verifyDelivery, TOLERANCE_SECONDS };
