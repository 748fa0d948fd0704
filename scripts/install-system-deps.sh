#!/usr/bin/env bash
# System packages wanflow needs beyond pip: a CJK font for titles, captions and contact
# sheets (fonts-noto-cjk); with --test also Debian chromium for the storyboard.html browser test.
# Idempotent and quiet: installs only what is missing. Debian/Ubuntu (apt); run as root or with sudo.
set -euo pipefail

packages=(fonts-noto-cjk)
case "${1:-}" in
    --test) packages+=(chromium) ;;
    "") ;;
    *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get here; install these yourself: ${missing[*]}" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-system-deps: installed ${missing[*]}"
