#!/usr/bin/env bash
# Install what the browser test needs from Debian's packages: chromium (driven headless by
# Playwright for Python through executable_path; Playwright never downloads a browser here) and
# ffmpeg (makes the test's media file). Idempotent: does nothing when both are present.
#
#   scripts/install-browser.sh          # as root, or with sudo available
set -euo pipefail

wanted=()
[ -x /usr/bin/chromium ] || wanted+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || wanted+=(ffmpeg)
# Fonts: a page with text renders without them, but Chromium logs fontconfig errors on every start.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || wanted+=(fonts-dejavu-core)

if [ ${#wanted[@]} -eq 0 ]; then
    echo "install-browser: chromium and ffmpeg already present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install-browser: need root (or sudo) to apt-get install ${wanted[*]}" >&2
    exit 1
fi

echo "install-browser: apt-get install ${wanted[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
/usr/bin/chromium --version
ffmpeg -hide_banner -version | head -n 1
