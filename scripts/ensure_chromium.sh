#!/usr/bin/env bash
# Make sure Debian's Chromium (for the browser tests) and a font are installed.
#
# Idempotent and fast when everything is already there. The browser tests drive
# /usr/bin/chromium through the Python `playwright` package; Playwright's own
# browser download (`playwright install`) is never used.
#
# Usage: bash scripts/ensure_chromium.sh
set -euo pipefail

CHROMIUM=/usr/bin/chromium
# A font so that screenshots show text: DejaVu is Debian's default sans-serif.
FONT_PACKAGE=fonts-dejavu-core
FONT_FILE=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

say() { printf 'ensure_chromium: %s\n' "$*" >&2; }

packages=()
[[ -x "$CHROMIUM" ]] || packages+=(chromium)
[[ -f "$FONT_FILE" ]] || packages+=("$FONT_PACKAGE")

if ((${#packages[@]} == 0)); then
    exit 0
fi

# shellcheck source=scripts/apt_install.sh
source "$(dirname "$0")/apt_install.sh"
apt_install ensure_chromium "${packages[@]}"

if [[ ! -x "$CHROMIUM" ]]; then
    say "apt-get finished but $CHROMIUM is still missing"
    exit 1
fi
say "ready: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
