#!/usr/bin/env bash
# Installs the third-party tools earmark drives and its tests need, idempotently:
#   - ffmpeg, jq and bc, from Debian's packages when not on PATH (needs root or password-less sudo);
#   - audible-cli 0.6.0 with pinned dependencies, in vendor/audible-cli/venv;
#   - schemathesis 4.32.5 with pinned dependencies, in vendor/schemathesis/venv (the tests'
#     generated-request run against the API document).
# Every step is skipped when its result is already in place.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
    else
        echo "setup: need root to run: $*  (run it yourself, then re-run this)" >&2
        return 1
    fi
}

if ! command -v ffmpeg >/dev/null; then
    echo "setup: installing ffmpeg from Debian's packages" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi
ffmpeg -hide_banner -version | head -n 1

# AAXtoMP3 (and the tests' stand-in for it) reads vouchers and chapter files with jq and
# sums chapter lengths with bc.
missing=""
for tool in jq bc; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
    echo "setup: installing$missing from Debian's packages" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# A venv under vendor/<tool> holding exactly vendor/<tool>/requirements.txt; reinstalled when
# the pins change.
pinned_venv() {
    local tool="$1" program="$2"
    local venv="$root/vendor/$tool/venv" requirements="$root/vendor/$tool/requirements.txt"
    if [ ! -x "$venv/bin/$program" ] || ! cmp -s "$requirements" "$venv/.installed"; then
        echo "setup: installing $tool into vendor/$tool/venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        cp "$requirements" "$venv/.installed"
    fi
}

pinned_venv audible-cli audible
"$root/vendor/audible-cli/venv/bin/python" -c 'import importlib.metadata as m; print("audible-cli", m.version("audible-cli"), "/ audible", m.version("audible"))'
pinned_venv schemathesis schemathesis
"$root/vendor/schemathesis/venv/bin/python" -c 'import importlib.metadata as m; print("schemathesis", m.version("schemathesis"))'
