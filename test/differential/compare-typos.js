// Differential test of the typo suggester (issue 16): our suggester against
// mailcheck's algorithm (npm mailcheck, pinned in package-lock.json) given the
// same provider list, over the one-edit typos of the 50 most popular providers
// (typo_cases.js), plus the shipped free-provider list where neither may
// suggest anything of ours.
//
// usage: node compare-typos.js CLI [--report]
//   CLI: build/.../typo_suggest_cli. Exit 1 when our exact-fix rate is below
//   mailcheck's, when we are wrong on a typo not reviewed in
//   known-wrong-typos.txt, or when we suggest anything for a real domain.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const Mailcheck = require('mailcheck');
const { oneEditTypos } = require('./typo_cases');

const root = path.resolve(__dirname, '../..');
const lines = (f) => fs.readFileSync(path.join(root, f), 'utf8').split('\n').filter((l) => l.length > 0);
const cli = process.argv[2];
const reportOnly = process.argv.includes('--report');
if (!cli) {
  console.error('usage: node compare-typos.js TYPO_SUGGEST_CLI [--report]');
  process.exit(2);
}

const popular = lines('data/popular_domains.txt');
const providers = [...new Set([...popular, ...lines('data/provider_domains.txt')])];
const free = lines('data/free_domains.txt');
const disposable = new Set(lines('data/disposable_domains.txt'));
const real = new Set([...providers, ...free, ...disposable]);
const biggest = popular.slice(0, 50);
const delegated = new Set(lines('data/tlds.txt'));

const typos = oneEditTypos(biggest);
const scored = [...typos.keys()].filter((t) => !real.has(t)).sort();
const realTypos = [...typos.keys()].filter((t) => real.has(t)).sort();

function ours(domains) {
  const out = execFileSync(cli, { input: domains.join('\n') + '\n', maxBuffer: 64 << 20 }).toString();
  const map = new Map();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [d, s] = line.split('\t');
    map.set(d, s || null);
  }
  return map;
}

function mailcheck(domain) {
  const r = Mailcheck.suggest('u@' + domain, providers, Mailcheck.defaultSecondLevelDomains,
    Mailcheck.defaultTopLevelDomains);
  return r && r.domain !== domain ? r.domain : null;
}

const t0 = Date.now();
const our = ours([...scored, ...realTypos, ...free, ...providers]);
const ourMs = Date.now() - t0;

function tally(suggest) {
  const all = { exact: 0, wrong: 0, none: 0, n: 0 };
  const byClass = {};
  const wrongs = [];
  for (const t of scored) {
    const e = typos.get(t);
    const s = suggest(t);
    const verdict = s === null ? 'none' : e.sources.has(s) ? 'exact' : 'wrong';
    if (verdict === 'wrong') wrongs.push([t, s, [...e.sources].join(',')]);
    const classes = [...e.kinds];
    if ([...e.sources].some((p) => p.length < 8)) classes.push('short provider (< 8 chars)');
    const tld = t.slice(t.lastIndexOf('.') + 1);
    if ([...e.sources].every((p) => p.slice(0, p.lastIndexOf('.')) === t.slice(0, t.lastIndexOf('.'))) &&
      delegated.has(tld)) classes.push('lands on a delegated TLD');
    for (const c of ['all', ...classes]) {
      const b = c === 'all' ? all : (byClass[c] = byClass[c] || { exact: 0, wrong: 0, none: 0, n: 0 });
      b[verdict]++;
      b.n++;
    }
  }
  return { all, byClass, wrongs };
}

const pct = (x, n) => (n ? ((100 * x) / n).toFixed(2) + '%' : '-');
const fmt = (b) => `exact ${b.exact}/${b.n} (${pct(b.exact, b.n)}), wrong ${b.wrong} (${pct(b.wrong, b.n)}), none ${b.none} (${pct(b.none, b.n)})`;

const t1 = Date.now();
const mc = tally(mailcheck);
const mcMs = Date.now() - t1;
const us = tally((t) => our.get(t) ?? null);

const freeOurs = free.filter((d) => our.get(d));
const freeMc = free.filter((d) => mailcheck(d));
const providerOurs = providers.filter((d) => our.get(d));
const realOurs = realTypos.filter((d) => our.get(d));
const realMc = realTypos.filter((d) => mailcheck(d));

console.log(`one-edit typos of the 50 biggest providers: ${typos.size} distinct, ${scored.length} scored, ` +
  `${realTypos.length} left out as real domains (free/disposable/provider lists)`);
console.log(`  ours      : ${fmt(us.all)}  [${ourMs} ms for ${our.size} domains incl. process start]`);
console.log(`  mailcheck : ${fmt(mc.all)}  [${mcMs} ms]`);
for (const c of Object.keys(us.byClass).sort()) {
  console.log(`  ${c}:`);
  console.log(`    ours      : ${fmt(us.byClass[c])}`);
  console.log(`    mailcheck : ${fmt(mc.byClass[c] || { exact: 0, wrong: 0, none: 0, n: 0 })}`);
}
console.log(`suggestions over the shipped free-provider list (${free.length} domains): ours ${freeOurs.length}, ` +
  `mailcheck ${freeMc.length}`);
console.log(`suggestions over the provider domains (${providers.length}): ours ${providerOurs.length}`);
console.log(`suggestions for the ${realTypos.length} typo-shaped real domains: ours ${realOurs.length}, mailcheck ${realMc.length}`);

const rate = (x, n) => (n ? ((100 * x) / n).toFixed(2) : '0');
console.log(`SUMMARY scored=${us.all.n} ours_exact=${rate(us.all.exact, us.all.n)} ours_wrong=${rate(us.all.wrong, us.all.n)} ` +
  `ours_none=${rate(us.all.none, us.all.n)} mailcheck_exact=${rate(mc.all.exact, mc.all.n)} ` +
  `mailcheck_wrong=${rate(mc.all.wrong, mc.all.n)} mailcheck_none=${rate(mc.all.none, mc.all.n)} ` +
  `free_ours=${freeOurs.length} free_mailcheck=${freeMc.length} free_n=${free.length}`);

// Reviewed cases where we are wrong: "typo suggestion  # why".
const reviewed = new Map();
for (const l of lines('test/differential/known-wrong-typos.txt')) {
  if (l.startsWith('#')) continue;
  const [t, s] = l.split('#')[0].trim().split(/\s+/);
  reviewed.set(t, s);
}
const unreviewed = us.wrongs.filter(([t, s]) => reviewed.get(t) !== s);
const stale = [...reviewed.keys()].filter((t) => !us.wrongs.some(([w]) => w === t));
for (const [t, s, src] of unreviewed) console.log(`UNREVIEWED WRONG: ${t} -> ${s} (typo of ${src})`);
for (const t of stale) console.log(`stale entry in known-wrong-typos.txt (no longer wrong): ${t}`);
for (const d of [...freeOurs, ...providerOurs, ...realOurs]) console.log(`REAL DOMAIN CORRECTED: ${d} -> ${our.get(d)}`);

const failures = [];
if (us.all.exact < mc.all.exact) failures.push('exact-fix rate below mailcheck\'s');
if (unreviewed.length) failures.push(`${unreviewed.length} wrong suggestions not reviewed`);
if (freeOurs.length + providerOurs.length + realOurs.length) failures.push('a real domain was corrected');
if (failures.length) {
  console.log('FAIL: ' + failures.join('; '));
  process.exit(reportOnly ? 0 : 1);
}
console.log('OK');
