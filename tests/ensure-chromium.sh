#!/usr/bin/env bash
# Installs what the browser tests drive, idempotently: Debian's headless-capable Chromium and
# its ChromeDriver (packages chromium and chromium-driver: /usr/bin/chromium,
# /usr/bin/chromedriver). Needs root or password-less sudo when they are missing. Under CI=true
# a failed install fails the run; elsewhere it warns and the browser tests skip themselves.
set -euo pipefail
say() { echo "ensure-chromium: $*" >&2; }

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
    else return 1
    fi
}
say "installing chromium and chromium-driver from Debian's packages"
if as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver >/dev/null; then
    chromium --version >&2
    exit 0
fi
if [ "${CI:-}" = true ]; then
    say "cannot install chromium and chromium-driver; the browser tests cannot run"
    exit 1
fi
say "cannot install chromium and chromium-driver (need root): the browser tests will skip"
