# shellcheck shell=bash
# apt_install NAME PACKAGE...: install Debian packages as root or through password-less
# sudo, or explain how and fail. Sourced by the ensure_*.sh scripts.
apt_install() {
    local name=$1
    shift
    local as_root
    if [[ "$(id -u)" -eq 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        printf '%s: missing: %s; installing needs root (or password-less sudo).\n' "$name" "$*" >&2
        printf '%s: run as root: apt-get update && apt-get install -y --no-install-recommends %s\n' \
            "$name" "$*" >&2
        return 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        printf '%s: missing: %s, and apt-get is not available on this system.\n' "$name" "$*" >&2
        return 1
    fi
    printf '%s: installing %s with apt-get (once per machine)\n' "$name" "$*" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
