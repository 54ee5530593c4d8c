#!/usr/bin/env bash
# Make sure wrk (the HTTP load generator of bench/web.py) is installed.
#
# Idempotent and fast when wrk is already on the PATH; otherwise installs Debian's
# package with apt-get, as root or through password-less sudo.
#
# Usage: bash scripts/ensure_wrk.sh
set -euo pipefail

say() { printf 'ensure_wrk: %s\n' "$*" >&2; }

if command -v wrk >/dev/null 2>&1; then
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    say "wrk is missing; installing it needs root (or password-less sudo)."
    say "run as root: apt-get update && apt-get install -y --no-install-recommends wrk"
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    say "wrk is missing, and apt-get is not available on this system."
    say "install wrk (https://github.com/wg/wrk) so that it is on the PATH."
    exit 1
fi

say "installing wrk with apt-get (once per machine)"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends wrk >/dev/null

if ! command -v wrk >/dev/null 2>&1; then
    say "apt-get finished but wrk is still not on the PATH"
    exit 1
fi
say "ready: $(command -v wrk)"
