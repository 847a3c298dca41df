#!/bin/bash
# Self-test of the test world: does every service answer as README.md says?
# Starts the world if needed (idempotent), prints one "ok"/"not ok" line per
# check and exits 1 if any failed. Takes about 10 s, most of it the
# greylisting delay, which runs while the DNS checks do.
# Usage: testworld/check.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
failures=0

"$here/world.sh" start
eval "$("$here/world.sh" env)"  # EV_WORLD_DIR, EV_WORLD_IPV6

pass() { echo "ok - $1"; }
fail() { echo "not ok - $1"; failures=$((failures + 1)); }
expect() {  # description got want
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}

# --- DNS ---------------------------------------------------------------------
dns() { dig @127.0.53.1 -p 53 +tries=1 +time=2 "$@"; }
status() { dns "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
answer() { dns +short "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }

# --- SMTP --------------------------------------------------------------------
# The first line of the server's reply to the command that starts with $2
# ("" = the greeting), as swaks shows it. swaks marks client lines "->"
# ("~>" under TLS) and server lines "<-", "<**" or "<~".
reply() {  # server command swaks-options...
    local server=$1 command=$2
    shift 2
    swaks --server "$server" --helo check.test --timeout 5 --to alice@check.test "$@" </dev/null 2>&1 |
        awk -v want="$command" '
            /^ *[~-]> / { sent = $0; sub(/^ *[~-]> /, "", sent); next }
            /^<[~*-]+ / {
                if (done) next
                if ((want == "" && sent == "") || (want != "" && index(sent, want) == 1)) {
                    line = $0; sub(/^<[~*-]+ +/, "", line); print line; done = 1
                }
            }'
}
rcpt() {  # server recipient [swaks options] -> the reply to RCPT TO
    local server=$1 to=$2
    shift 2
    reply "$server" "RCPT TO" --from '<>' --quit-after RCPT --to "$to" "$@"
}

# Greylisting first: the retry must wait 3 s, and the DNS checks fill them.
# postgrey turns digit runs in the sender into "#" (VERP), so the sender is
# made unique with letters.
grey_from="check-$(date +%s%N | tr 0-9 a-j)@check.test"
expect "grey.test: first RCPT is greylisted" \
    "$(rcpt 127.0.1.1 alice@grey.test --from "$grey_from")" \
    "450 4.2.0 <alice@grey.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html"
grey_at=$(date +%s.%N)

expect "strict.test MX" "$(answer strict.test MX)" "10 mx.strict.test."
expect "mx.strict.test A" "$(answer mx.strict.test A)" "127.0.1.1"
expect "strict.test MX over TCP" "$(answer +tcp strict.test MX)" "10 mx.strict.test."
expect "strict.test TTL is 300" "$(dns +noall +answer strict.test MX | awk '{print $2}')" "300"
expect "catchall.test MX" "$(answer catchall.test MX)" "10 mx.catchall.test."
expect "grey.test MX" "$(answer grey.test MX)" "10 mx.grey.test."
expect "afallback.test has no MX" "$(status afallback.test MX)/$(answer afallback.test MX)" "NOERROR/"
expect "afallback.test A" "$(answer afallback.test A)" "127.0.1.1"
expect "backupmx.test MX" "$(answer backupmx.test MX)" "10 dead.backupmx.test. 20 mx2.backupmx.test."
expect "dead.backupmx.test A" "$(answer dead.backupmx.test A)" "127.0.3.1"
expect "mx2.backupmx.test A" "$(answer mx2.backupmx.test A)" "127.0.1.2"
expect "mx.v6.test AAAA only" "$(answer mx.v6.test AAAA)/$(answer mx.v6.test A)" "::1/"
expect "xn--bcher-kva.test MX" "$(answer xn--bcher-kva.test MX)" "10 mx.xn--bcher-kva.test."
expect "twomx.test MX" "$(answer twomx.test MX)" "10 mx1.twomx.test. 20 mx2.twomx.test."
expect "nullmx.test null MX" "$(answer nullmx.test MX)" "0 ."
expect "dangling.test MX" "$(answer dangling.test MX)" "10 nowhere.dangling.test."
expect "nowhere.dangling.test NXDOMAIN" "$(status nowhere.dangling.test A)" "NXDOMAIN"
expect "noaddress.test exists without MX/A/AAAA" \
    "$(status noaddress.test MX) $(answer noaddress.test MX)$(answer noaddress.test A)$(answer noaddress.test AAAA)" "NOERROR "
expect "noaddress.test TXT" "$(answer noaddress.test TXT)" '"v=spf1 -all"'
expect "nosuch.test NXDOMAIN" "$(status nosuch.test MX)" "NXDOMAIN"
expect "refused.test REFUSED" "$(status refused.test MX)" "REFUSED"
expect "names outside test. are NXDOMAIN" "$(status example.com A)" "NXDOMAIN"
started=$(date +%s%N)
expect "servfail.test SERVFAIL" "$(status servfail.test MX)" "SERVFAIL"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
if [ "$elapsed_ms" -lt 1000 ]; then pass "servfail.test answers in ${elapsed_ms} ms"; else fail "servfail.test took ${elapsed_ms} ms"; fi
while read -r name address domain; do
    expect "$domain -> mx.$domain -> $address ($name)" \
        "$(answer "$domain" MX) $(answer "mx.$domain" A)" "10 mx.$domain. $address"
done < <(grep -v '^#' "$here/behaviours.txt" | grep .)
expect "mx1.twomx.test is the banner421 server" "$(answer mx1.twomx.test A)" "127.0.2.11"
expect "m365-open.test is the replica_m365 server too" \
    "$(answer m365-open.test MX) $(answer mx.m365-open.test A)" "10 mx.m365-open.test. 127.0.2.34"
expect "bench b099.test" "$(answer b099.test MX) $(answer mx.b099.test A)" "10 mx.b099.test. 127.0.1.1"
expect "bench l0999.test" "$(answer l0999.test MX)" "10 mx.l0999.test."
expect "bench d09999.test" "$(answer d09999.test MX) $(answer mx.d09999.test A)" "10 mx.d09999.test. 127.0.1.1"
expect "bench d10000.test does not exist" "$(status d10000.test MX)" "NXDOMAIN"

# --- Postfix -----------------------------------------------------------------
expect "strict.test unknown user" "$(rcpt 127.0.1.1 nobody@strict.test)" \
    "550 5.1.1 <nobody@strict.test>: Recipient address rejected: User unknown in virtual mailbox table"
expect "strict.test alice" "$(rcpt 127.0.1.1 alice@strict.test)" "250 2.1.5 Ok"
expect "strict.test john.smith" "$(rcpt 127.0.1.1 john.smith@strict.test)" "250 2.1.5 Ok"
expect "catchall.test accepts anyone" "$(rcpt 127.0.1.1 "x$$@catchall.test")" "250 2.1.5 Ok"
expect "b042.test accepts anyone" "$(rcpt 127.0.1.1 "y$$@b042.test")" "250 2.1.5 Ok"
expect "l0123.test u99 exists" "$(rcpt 127.0.1.1 u99@l0123.test)" "250 2.1.5 Ok"
expect "l0123.test u100 does not" "$(rcpt 127.0.1.1 u100@l0123.test)" \
    "550 5.1.1 <u100@l0123.test>: Recipient address rejected: User unknown in virtual mailbox table"
expect "Postfix relays nothing" "$(rcpt 127.0.1.2 alice@example.com)" \
    "554 5.7.1 <alice@example.com>: Relay access denied"
expect "backupmx.test alice on 127.0.1.2" "$(rcpt 127.0.1.2 alice@backupmx.test)" "250 2.1.5 Ok"
if [ "$EV_WORLD_IPV6" = 1 ]; then
    expect "v6.test alice on [::1]" "$(rcpt ::1 alice@v6.test)" "250 2.1.5 Ok"
else
    pass "# skip v6.test: no IPv6 loopback on this host"
fi

# --- scripted servers --------------------------------------------------------
expect "banner421" "$(reply 127.0.2.11 "")" "421 4.3.2 Service not available, closing transmission channel"
expect "banner554" "$(reply 127.0.2.12 "")" "554 5.7.1 Service unavailable; your IP is listed on a blocklist"
expect "blocklisted at MAIL FROM" \
    "$(reply 127.0.2.19 "MAIL FROM" --from '<>' --to alice@blocklisted.test --quit-after RCPT)" \
    "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"
expect "tlsrequired: MAIL before STARTTLS" \
    "$(reply 127.0.2.20 "MAIL FROM" --from '<>' --to alice@tlsrequired.test --quit-after RCPT)" \
    "530 5.7.0 Must issue a STARTTLS command first"
expect "tlsrequired: RCPT after STARTTLS" "$(rcpt 127.0.2.20 alice@tlsrequired.test -tls)" "250 2.1.5 Ok"
expect "tlsrequired: certificate is for another name" \
    "$(swaks --server 127.0.2.20 --to alice@check.test --quit-after STARTTLS -tls </dev/null 2>&1 | sed -n 's/^=== TLS peer DN="\(.*\)"/\1/p')" \
    "/CN=wrong.example"
expect "full: mailbox full" "$(rcpt 127.0.2.17 full@full.test)" "552 5.2.2 Mailbox full"
expect "disabled: gone" "$(rcpt 127.0.2.18 gone@disabled.test)" \
    "550 5.2.1 The email account that you tried to reach is disabled"
expect "replica_google: unknown user" "$(rcpt 127.0.2.31 ghost@google-replica.test)" \
    "550-5.1.1 The email account that you tried to reach does not exist. Please try"
expect "replica_yahoo: anyone is accepted" "$(rcpt 127.0.2.32 "x$$@yahoo-replica.test")" \
    "250 recipient <x$$@yahoo-replica.test> ok"
expect "replica_outlook: unknown user" "$(rcpt 127.0.2.33 ghost@outlook-replica.test)" \
    "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302) [replica]"
expect "replica_m365: edge blocking" "$(rcpt 127.0.2.34 ghost@m365-dbeb.test)" \
    "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [replica]"
expect "replica_m365: the tenant without it" "$(rcpt 127.0.2.34 ghost@m365-open.test)" "250 2.1.5 Recipient OK"

# Counters, DATA (answered 503) and a burst of concurrent connections.
if "$python" - <<'EOF'; then pass "scripted server: stats, DATA 503, 300 concurrent sessions"; else fail "scripted server: stats/DATA/concurrency (see above)"; fi
import asyncio, json, socket

def control(cmd):
    with socket.create_connection(("127.0.2.1", 8025), timeout=2) as s:
        s.sendall(cmd.encode() + b"\n")
        return s.makefile().readline()

async def session(commands):
    r, w = await asyncio.open_connection("127.0.2.28", 25)
    w.write("".join(c + "\r\n" for c in commands).encode())
    replies = [line.decode() async for line in r]
    w.close()
    return replies

async def main():
    one = await session(["EHLO check.test", "MAIL FROM:<>", "RCPT TO:<alice@slowrcpt.test>",
                         "DATA", "QUIT"])
    assert one[-3].startswith("250 2.1.5"), one
    assert one[-2].startswith("503 "), one
    many = await asyncio.gather(*(session(["EHLO check.test", "MAIL FROM:<>",
                                           "RCPT TO:<bob@slowrcpt.test>", "QUIT"])
                                  for _ in range(300)))
    assert all(m[-2].startswith("250 2.1.5") for m in many)

# Differences, not a RESET: a test suite may be reading the counters now.
before = json.loads(control("STATS slowrcpt"))["slowrcpt"]
asyncio.run(main())
after = json.loads(control("STATS slowrcpt"))["slowrcpt"]
delta = {k: after[k] - before[k] for k in ("connections", "rcpt", "data")}
assert delta["connections"] >= 301 and delta["rcpt"] >= 301 and delta["data"] >= 1, delta
assert after["max_concurrent"] >= after["current"]
print(f"# slowrcpt: max_concurrent={after['max_concurrent']}")
EOF

# --- greylisting, second half -------------------------------------------------
sleep "$(awk -v since="$grey_at" -v now="$(date +%s.%N)" \
    'BEGIN { w = since + 3.2 - now; print (w > 0 ? w : 0) }')"
expect "grey.test: same triplet accepted after the delay" \
    "$(rcpt 127.0.1.1 alice@grey.test --from "$grey_from")" "250 2.1.5 Ok"

# --- nothing listens beyond loopback ------------------------------------------
# Every listening socket of the world's processes (Postfix's are the master's).
pids=$(cat "$EV_WORLD_DIR"/{dns/unbound,postgrey/postgrey,smtp/scripted}.pid)
pids="$pids $(tr -d ' ' <"$EV_WORLD_DIR/postfix/queue/pid/master.pid")"
outside=$(ss -H -ltnup | while read -r _ _ _ _ local _ users; do
    for pid in $pids; do
        case "$users" in *"pid=$pid,"*)
            case "$local" in 127.*|"[::1]"*|"::1"*) ;; *) echo "$local" ;; esac ;;
        esac
    done
done)
expect "world listens on loopback only" "$outside" ""

if [ "$failures" -gt 0 ]; then
    echo "check: $failures check(s) failed"
    exit 1
fi
echo "check: all passed"
