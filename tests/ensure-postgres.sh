#!/usr/bin/env bash
# Finds or starts the PostgreSQL the tests use, and prints `export TEST_DATABASE_URL=...` for
# the caller to eval. In order:
#   1. TEST_DATABASE_URL, or a postgres:// DATABASE_URL, if set;
#   2. a server on 127.0.0.1:5432 (user postgres, trust auth), as on this project's machines;
#   3. a server of our own on 127.0.0.1:54329, data in target/pg-test, started from the
#      installed PostgreSQL binaries (installed from Debian's packages first when CI=true).
# When none can be had: under CI=true this fails; elsewhere it warns and the PostgreSQL tests
# skip themselves.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "ensure-postgres: $*" >&2; }

answers() { # host port
    if command -v pg_isready >/dev/null; then pg_isready -q -h "$1" -p "$2" -t 3
    else (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; fi
}

if [ -n "${TEST_DATABASE_URL:-}" ]; then
    echo "export TEST_DATABASE_URL='$TEST_DATABASE_URL'"; exit 0
fi
case "${DATABASE_URL:-}" in
    postgres://*|postgresql://*) echo "export TEST_DATABASE_URL='$DATABASE_URL'"; exit 0 ;;
esac
if answers 127.0.0.1 5432; then
    say "using the server on 127.0.0.1:5432"
    echo "export TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres'"; exit 0
fi

own_port=54329
own_url="postgres://postgres@127.0.0.1:$own_port/postgres"
if answers 127.0.0.1 "$own_port"; then
    say "using our own server on 127.0.0.1:$own_port"
    echo "export TEST_DATABASE_URL='$own_url'"; exit 0
fi

find_bin() {
    command -v "$1" 2>/dev/null && return 0
    ls -1d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1 | grep . 
}
if ! find_bin initdb >/dev/null && [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; then
    say "installing PostgreSQL from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
if initdb="$(find_bin initdb)" && pg_ctl="$(find_bin pg_ctl)"; then
    data="$root/target/pg-test"
    run=()
    if [ "$(id -u)" = 0 ]; then
        # PostgreSQL refuses to run as root: run it as the packages' postgres user.
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent postgres
        run=(runuser -u postgres --)
    fi
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
        say "creating a test cluster in $data"
        "${run[@]}" "$initdb" -D "$data" -U postgres --auth=trust >/dev/null
    fi
    say "starting our own server on 127.0.0.1:$own_port"
    "${run[@]}" "$pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
        -o "-p $own_port -c listen_addresses=127.0.0.1 -k $data" start >/dev/null
    echo "export TEST_DATABASE_URL='$own_url'"; exit 0
fi

if [ "${CI:-}" = true ]; then
    say "no PostgreSQL found or installable, and CI=true: PostgreSQL tests are never skipped in CI"
    exit 1
fi
say "no PostgreSQL found: the PostgreSQL tests will skip (install postgresql, or set TEST_DATABASE_URL)"
