#!/usr/bin/env bash
# What the browser tests need: a Chrome or Chromium (driven headless by Playwright for Python through
# executable_path) and ffmpeg (makes the HTML5 test's media file). Idempotent.
#
# Uses what the machine has, in the order tests/support/browser.py looks:
#   $CIOHOOKS_CHROMIUM, chromium / chromium-browser / google-chrome on PATH, macOS's Google Chrome.app
#   or Chromium.app, Playwright's own download.
# Where one is missing: Debian's packages when apt-get can run (as root or with sudo), Homebrew's
# ffmpeg on macOS, else Playwright's own Chromium download (.venv/bin/python -m playwright install).
# Where nothing can be had it says so in one line and exits 0, so `make test` runs everything else
# (the browser tests skip with the same line); with CI=true it exits 1: CI must run them.
#
#   scripts/install-browser.sh
set -uo pipefail

PY="${PYTHON_VENV:-.venv/bin/python}"

find_browser() {
    if [ -n "${CIOHOOKS_CHROMIUM:-}" ] && [ -x "${CIOHOOKS_CHROMIUM}" ]; then echo "$CIOHOOKS_CHROMIUM"; return 0; fi
    for name in chromium chromium-browser google-chrome google-chrome-stable; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    done
    for app in "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" "/Applications/Chromium.app/Contents/MacOS/Chromium" \
               "$HOME/Applications/Google Chrome.app/Contents/MacOS/Google Chrome" "$HOME/Applications/Chromium.app/Contents/MacOS/Chromium"; do
        if [ -x "$app" ]; then echo "$app"; return 0; fi
    done
    if [ -x "$PY" ]; then
        "$PY" - <<'EOF' 2>/dev/null && return 0
import os, sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    path = p.chromium.executable_path
if not os.path.isfile(path):
    sys.exit(1)
print(path)
EOF
    fi
    return 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

can_apt() { command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }; }

missing() {
    local what="$1"
    if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then
        echo "install-browser: $what could not be installed, and CI requires the browser tests" >&2
        exit 1
    fi
    echo "install-browser: no $what on this machine and none could be installed: the browser tests will skip (everything else runs)"
}

browser="$(find_browser || true)"
have_ffmpeg=0; command -v ffmpeg >/dev/null 2>&1 && have_ffmpeg=1

if [ -n "$browser" ] && [ "$have_ffmpeg" -eq 1 ]; then
    echo "install-browser: using $browser and $(command -v ffmpeg)"
    exit 0
fi

if can_apt; then
    wanted=()
    [ -n "$browser" ] || wanted+=(chromium)
    [ "$have_ffmpeg" -eq 1 ] || wanted+=(ffmpeg)
    # Fonts: a page with text renders without them, but Chromium logs fontconfig errors on every start.
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || wanted+=(fonts-dejavu-core)
    echo "install-browser: apt-get install ${wanted[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null; then
        browser="$(find_browser || true)"
        command -v ffmpeg >/dev/null 2>&1 && have_ffmpeg=1
    fi
fi

if [ "$have_ffmpeg" -eq 0 ] && command -v brew >/dev/null 2>&1; then
    echo "install-browser: brew install ffmpeg"
    brew install ffmpeg >/dev/null && have_ffmpeg=1
fi

if [ -z "$browser" ] && [ -x "$PY" ]; then
    echo "install-browser: no Chrome or Chromium found: downloading Playwright's Chromium"
    "$PY" -m playwright install chromium >/dev/null 2>&1 && browser="$(find_browser || true)"
fi

[ -n "$browser" ] && echo "install-browser: using $browser" || missing "Chrome or Chromium"
[ "$have_ffmpeg" -eq 1 ] && echo "install-browser: using $(command -v ffmpeg)" || missing "ffmpeg (for the HTML5 clip)"
exit 0
