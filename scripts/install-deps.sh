#!/bin/sh
# Installs everything the build, the tests, the benchmarks and the demo need,
# from Debian 12's own packages. Idempotent; run as root.
set -eu
export DEBIAN_FRONTEND=noninteractive

# The last three lines are the local mail world (testworld/world.sh): its own
# unbound, Postfix and postgrey instances, dig and swaks for checks, ss.
# swaks only recommends the modules it needs for STARTTLS and IPv6.
# microsocks is the SOCKS5 proxy TAP 020 starts on loopback (it installs no
# service); IO::Socket::SSL lets TAP 023 speak TLS to the webhook receiver.
packages="
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format clang-tidy shellcheck
  postgresql-15 postgresql-server-dev-15 libkrb5-dev libipc-run-perl
  libidn2-dev libunistring-dev libc-ares-dev libssl-dev libcurl4-openssl-dev libpq-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-email-validator
  git ca-certificates procps
  unbound postfix postgrey openssl bind9-dnsutils iproute2
  swaks libnet-ssleay-perl libio-socket-inet6-perl
  microsocks libio-socket-ssl-perl
"
# Node.js (>= 18) runs the webhook receiver the TAP suites deliver to
# (test/webhook-receiver); Debian 12's, unless a node is there already (one
# from elsewhere brings its own npm, which Debian's npm would conflict with).
command -v node >/dev/null 2>&1 || packages="$packages nodejs"
command -v npm >/dev/null 2>&1 || packages="$packages npm"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "email_verify: installing$missing"
    apt-get update -q
    # Debian's postgresql-common would create and start a default cluster;
    # our clusters are throwaway ones under the repo.
    mkdir -p /etc/postgresql-common
    [ -f /etc/postgresql-common/createcluster.conf ] || echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
    # Postfix would ask how to configure the system's mail; the test world
    # brings its own configuration, so the system's stays empty.
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
    # No package may start its service while installing: Debian's unbound,
    # postfix and postgrey would take port 53/25/10023 that the test world
    # needs. policy-rc.d answering 101 means "not allowed"; an existing one
    # (Docker images ship one) is left as it is.
    created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, from email_verify scripts/install-deps.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=yes
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing
    if [ -n "$created_policy" ]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
fi

# On a host with systemd, policy-rc.d does not stop the units from starting
# at the next boot, and they may have run before this script: stop and
# disable Debian's own instances (the test world runs its own).
if [ -d /run/systemd/system ]; then
    for unit in unbound unbound-resolvconf postfix postgrey; do
        if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
            echo "email_verify: disabling Debian's own $unit service (the test world runs its own)"
            systemctl disable --now "$unit" >/dev/null 2>&1 || true
        fi
    done
else
    # Without systemd only an init script can have started them.
    # Postfix installed with "No configuration" has no main.cf, and its init
    # script then answers "status" with success although nothing runs.
    for svc in unbound postfix postgrey; do
        [ "$svc" = postfix ] && [ ! -f /etc/postfix/main.cf ] && continue
        if [ -x "/etc/init.d/$svc" ] && "/etc/init.d/$svc" status >/dev/null 2>&1; then
            echo "email_verify: stopping Debian's own $svc (the test world runs its own)"
            "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
        fi
    done
fi
