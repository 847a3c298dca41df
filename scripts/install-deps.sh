#!/bin/sh
# Installs everything the build, the tests, the benchmarks and the demo need,
# from Debian 12's own packages. Idempotent; run as root.
set -eu
export DEBIAN_FRONTEND=noninteractive

packages="
  build-essential cmake pkg-config clang libclang-rt-14-dev
  postgresql-15 postgresql-server-dev-15 libipc-run-perl
  libidn2-dev libc-ares-dev libssl-dev libcurl4-openssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-email-validator
  git ca-certificates procps
"

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
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing
fi
