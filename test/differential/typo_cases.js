// Deterministic generator of the one-edit typos of the 50 most popular
// provider domains (data/popular_domains.txt, most popular first): every
// deletion, insertion, substitution and transposition of neighbours, over
// the letters a-z, the digits, "." and "-" (what a slipping finger types).
// Typos that are not valid host names (empty label, label starting or
// ending with "-") are left out: the syntax check refuses them first.
'use strict';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789.-';

function validHost(d) {
  if (d.length === 0 || d.length > 253) return false;
  return d.split('.').every((l) => l.length > 0 && l.length <= 63 && !l.startsWith('-') && !l.endsWith('-'));
}

// Map typo -> { sources: Set(provider), kinds: Set(kind) }.
function oneEditTypos(providers) {
  const out = new Map();
  const add = (typo, source, kind) => {
    if (typo === source || !validHost(typo)) return;
    let e = out.get(typo);
    if (!e) out.set(typo, (e = { sources: new Set(), kinds: new Set() }));
    e.sources.add(source);
    e.kinds.add(kind);
  };
  for (const p of providers) {
    for (let i = 0; i < p.length; i++) {
      add(p.slice(0, i) + p.slice(i + 1), p, 'deletion');
      for (const c of ALPHABET) add(p.slice(0, i) + c + p.slice(i + 1), p, 'substitution');
      if (i + 1 < p.length) add(p.slice(0, i) + p[i + 1] + p[i] + p.slice(i + 2), p, 'transposition');
    }
    for (let i = 0; i <= p.length; i++) for (const c of ALPHABET) add(p.slice(0, i) + c + p.slice(i), p, 'insertion');
  }
  return out;
}

module.exports = { oneEditTypos, validHost };
