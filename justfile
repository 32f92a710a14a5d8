# earmark's tasks. Run them through ./just, which installs the pinned `just` on first use.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Crates the core must never depend on (it holds no infrastructure).
forbidden_in_core := "actix actix-web actix-rt actix-files actix-ws diesel diesel-async deadpool libsqlite3-sys tokio tokio-postgres"
# Crates the HTTP surface must never depend on (it knows ports, never the database).
forbidden_in_http := "earmark-db diesel diesel-async diesel_migrations deadpool libsqlite3-sys tokio-postgres"

# List the recipes.
default:
    @./just --list

# Install what the main job needs (once; later runs skip it), then serve on the embedded
# default (SQLite under ./data) or whatever EARMARK__* says.
serve: setup
    cargo run --bin earmark

# Install what the service and its tests drive: ffmpeg, audible-cli 0.6.0 (vendor/).
setup:
    vendor/setup.sh

# Everything CI checks: setup, PostgreSQL, Chromium, formatting, lints, core purity, the whole test suite.
test: setup fmt-check lint core-is-pure http-knows-no-database
    #!/usr/bin/env bash
    set -euo pipefail
    eval "$(tests/ensure-postgres.sh)"
    export TEST_DATABASE_URL="${TEST_DATABASE_URL:-}"
    tests/ensure-chromium.sh
    # The black-box tests start the real binary; no test target of its package builds it.
    cargo build --bin earmark
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --no-fail-fast
    else
        cargo test --workspace --no-fail-fast
    fi

# Fail when code is not formatted.
fmt-check:
    cargo fmt --all -- --check

# Clippy over every target, warnings as errors.
lint:
    cargo clippy --workspace --all-targets --quiet -- -D warnings

# Prove earmark-core depends on no framework, database or process crate.
core-is-pure:
    #!/usr/bin/env bash
    set -euo pipefail
    deps="$(cargo tree -p earmark-core -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)"
    bad=""
    for crate in {{forbidden_in_core}}; do
        if grep -qx "$crate" <<<"$deps"; then bad="$bad $crate"; fi
    done
    if [ -n "$bad" ]; then echo "earmark-core depends on:$bad" >&2; exit 1; fi
    echo "earmark-core depends on none of: {{forbidden_in_core}}"

# Prove earmark-http reaches the database only through ports: no database crate below it.
http-knows-no-database:
    #!/usr/bin/env bash
    set -euo pipefail
    deps="$(cargo tree -p earmark-http -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)"
    bad=""
    for crate in {{forbidden_in_http}}; do
        if grep -qx "$crate" <<<"$deps"; then bad="$bad $crate"; fi
    done
    if [ -n "$bad" ]; then echo "earmark-http depends on:$bad" >&2; exit 1; fi
    echo "earmark-http depends on none of: {{forbidden_in_http}}"

# Benchmarks, each against a reference measured in the same run; results go to docs/benchmarks.md.
bench:
    bench/stream/run.sh
    cargo build --release --quiet -p earmark-bench-convert
    target/release/earmark-bench-convert 10 5
    cargo build --release --quiet -p earmark-bench-jobs
    target/release/earmark-bench-jobs 20
    cargo build --release --quiet --bin earmark --bin earmark-bench-library
    eval "$(tests/ensure-postgres.sh)" && target/release/earmark-bench-library 20000 10
    cargo build --release --quiet -p earmark-bench-repair
    target/release/earmark-bench-repair 5000 10

# Drop PostgreSQL test databases that crashed tests left behind.
clean-test-dbs:
    #!/usr/bin/env bash
    set -euo pipefail
    eval "$(tests/ensure-postgres.sh)"
    psql "$TEST_DATABASE_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'earmark_test_%'" \
        | while read -r db; do psql "$TEST_DATABASE_URL" -qc "DROP DATABASE \"$db\" WITH (FORCE)"; done
