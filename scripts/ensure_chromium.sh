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

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    say "missing: ${packages[*]}; installing them needs root (or password-less sudo)."
    say "run as root: apt-get update && apt-get install -y --no-install-recommends ${packages[*]}"
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    say "missing: ${packages[*]}, and apt-get is not available on this system."
    say "install Chromium at $CHROMIUM and a sans-serif font by hand."
    exit 1
fi

say "installing ${packages[*]} with apt-get (once per machine)"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

if [[ ! -x "$CHROMIUM" ]]; then
    say "apt-get finished but $CHROMIUM is still missing"
    exit 1
fi
say "ready: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
