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

# shellcheck source=scripts/apt_install.sh
source "$(dirname "$0")/apt_install.sh"
apt_install ensure_wrk wrk

if ! command -v wrk >/dev/null 2>&1; then
    say "apt-get finished but wrk is still not on the PATH"
    exit 1
fi
say "ready: $(command -v wrk)"
