#!/usr/bin/env bash
# Refresh the front-end files the app serves from src/paperfeed/deliver/static/vendor/.
#
# The versions are pinned in frontend/package.json and frontend/package-lock.json. This
# installs them from the npm registry (npm ci; npm install when there is no lock yet,
# which writes the lock) in a temporary folder, so no node_modules/ is left in the tree,
# and copies only what the pages load, plus the licences:
#
#   katex/katex.min.js  katex/katex.min.css  katex/contrib/auto-render.min.js
#   katex/fonts/*.woff2 katex/LICENSE        htmx/htmx.min.js  htmx/LICENSE
#
# and axe-core (axe.min.js, LICENSE) into tests/browser/vendor/axe-core/ for the browser
# tests' accessibility checks (never served by the app).
#   swagger-ui/swagger-ui-bundle.js swagger-ui/swagger-ui.css swagger-ui/LICENSE swagger-ui/NOTICE
#   (the API page /docs; the source-map comment is cut, the .map files are not shipped)
#
# KaTeX's CSS names .woff2, .woff and .ttf files for each font; only .woff2 is kept
# (every browser that runs the app reads it), so the .woff and .ttf fallbacks are cut
# out of the CSS, which then names only files that are here.
#
# The copied files are committed: installing paperfeed never needs Node.js or npm.
# To upgrade: change the versions in frontend/package.json, delete
# frontend/package-lock.json, run this, update the versions in the vendor README.
#
# Usage: bash scripts/vendor_assets.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRONTEND="$ROOT/frontend"
VENDOR="$ROOT/src/paperfeed/deliver/static/vendor"

say() { printf 'vendor_assets: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

command -v npm >/dev/null 2>&1 || die "npm is not installed (Node.js 18 or newer with npm is needed)"
[[ -f "$FRONTEND/package.json" ]] || die "missing $FRONTEND/package.json"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$FRONTEND/package.json" "$WORK/"
npm_flags=(--no-audit --no-fund --ignore-scripts --loglevel=error)
if [[ -f "$FRONTEND/package-lock.json" ]]; then
    cp "$FRONTEND/package-lock.json" "$WORK/"
    say "npm ci (versions from frontend/package-lock.json)"
    (cd "$WORK" && npm ci "${npm_flags[@]}")
else
    say "npm install (no lock yet: writing frontend/package-lock.json)"
    (cd "$WORK" && npm install "${npm_flags[@]}")
    cp "$WORK/package-lock.json" "$FRONTEND/package-lock.json"
fi

KATEX="$WORK/node_modules/katex"
HTMX="$WORK/node_modules/htmx.org"
SWAGGER="$WORK/node_modules/swagger-ui-dist"
AXE="$WORK/node_modules/axe-core"
for file in \
    "$KATEX/dist/katex.min.js" "$KATEX/dist/katex.min.css" \
    "$KATEX/dist/contrib/auto-render.min.js" "$KATEX/LICENSE" \
    "$HTMX/dist/htmx.min.js" "$HTMX/LICENSE" \
    "$SWAGGER/swagger-ui-bundle.js" "$SWAGGER/swagger-ui.css" "$SWAGGER/LICENSE" "$SWAGGER/NOTICE" \
    "$AXE/axe.min.js" "$AXE/LICENSE"; do
    [[ -f "$file" ]] || die "the installed package lacks ${file#"$WORK/node_modules/"}"
done
compgen -G "$KATEX/dist/fonts/*.woff2" >/dev/null || die "katex ships no fonts/*.woff2"

# Build the new tree beside the old one, then swap, so a failure leaves the old one whole.
NEW="$WORK/vendor"
mkdir -p "$NEW/katex/contrib" "$NEW/katex/fonts" "$NEW/htmx" "$NEW/swagger-ui"
cp "$KATEX/dist/katex.min.js" "$NEW/katex/"
cp "$KATEX/dist/contrib/auto-render.min.js" "$NEW/katex/contrib/"
cp "$KATEX/dist/fonts/"*.woff2 "$NEW/katex/fonts/"
cp "$KATEX/LICENSE" "$NEW/katex/LICENSE"
cp "$HTMX/dist/htmx.min.js" "$NEW/htmx/"
cp "$HTMX/LICENSE" "$NEW/htmx/LICENSE"
# Swagger UI for /docs: the bundle and its CSS without their sourceMappingURL comments
# (the .map files are 5 MB and not shipped), with the licence and notice.
sed -e '/^\/\/# sourceMappingURL=/d' "$SWAGGER/swagger-ui-bundle.js" >"$NEW/swagger-ui/swagger-ui-bundle.js"
sed -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$SWAGGER/swagger-ui.css" >"$NEW/swagger-ui/swagger-ui.css"
cp "$SWAGGER/LICENSE" "$SWAGGER/NOTICE" "$NEW/swagger-ui/"
# Drop the .woff and .ttf fallbacks after each .woff2 in the @font-face src lists.
sed -E \
    -e 's/,url\(fonts\/[A-Za-z0-9_-]+\.woff\) format\("woff"\)//g' \
    -e 's/,url\(fonts\/[A-Za-z0-9_-]+\.ttf\) format\("truetype"\)//g' \
    "$KATEX/dist/katex.min.css" >"$NEW/katex/katex.min.css"
if grep -Eq 'url\([^)]*\.(woff|ttf)\)' "$NEW/katex/katex.min.css"; then
    die "katex.min.css still names .woff or .ttf files: its @font-face format changed"
fi
# Every font the CSS names must be here.
grep -Eo 'url\([^)]*\)' "$NEW/katex/katex.min.css" | sed -E 's/^url\(["'\'']?//; s/["'\'']?\)$//' |
    sort -u | while read -r url; do
        [[ -f "$NEW/katex/$url" ]] || die "katex.min.css names $url, which is not vendored"
    done

[[ -f "$VENDOR/README.md" ]] && cp "$VENDOR/README.md" "$NEW/README.md"
mkdir -p "$(dirname "$VENDOR")"
rm -rf "$VENDOR.old"
[[ -d "$VENDOR" ]] && mv "$VENDOR" "$VENDOR.old"
mv "$NEW" "$VENDOR"
rm -rf "$VENDOR.old"

# axe-core runs only in the browser tests (accessibility checks), so it lives beside them,
# not in the package the app serves.
AXE_DIR="$ROOT/tests/browser/vendor/axe-core"
mkdir -p "$AXE_DIR"
cp "$AXE/axe.min.js" "$AXE/LICENSE" "$AXE_DIR/"
say "vendored axe-core $(node -p "require('$AXE/package.json').version") into ${AXE_DIR#"$ROOT/"}"

katex_version="$(node -p "require('$KATEX/package.json').version")"
htmx_version="$(node -p "require('$HTMX/package.json').version")"
swagger_version="$(node -p "require('$SWAGGER/package.json').version")"
say "vendored katex $katex_version, htmx.org $htmx_version and swagger-ui-dist $swagger_version into ${VENDOR#"$ROOT/"} ($(du -sh "$VENDOR" | cut -f1))"
