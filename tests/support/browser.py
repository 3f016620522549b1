"""The Chromium the browser tests drive (Playwright for Python, through ``executable_path``).

Found where users have one, in this order (``scripts/install-browser.sh`` looks the same way and
installs one where none is found):

1. ``$CIOHOOKS_CHROMIUM``: a path you choose;
2. on ``PATH``: ``chromium``, ``chromium-browser``, ``google-chrome``, ``google-chrome-stable``;
3. macOS applications: Google Chrome, Chromium (in /Applications or ~/Applications);
4. Playwright's own download (``python -m playwright install chromium``), if it was made.

Without one (or without Playwright), a browser test skips with one line saying how to get one;
with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


from . import require

ON_PATH = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MACOS_APPS = ("Google Chrome.app/Contents/MacOS/Google Chrome", "Chromium.app/Contents/MacOS/Chromium")
HINT = "run scripts/install-browser.sh (or set CIOHOOKS_CHROMIUM to a Chrome or Chromium)"


def find_chromium() -> Path | None:
    if chosen := os.environ.get("CIOHOOKS_CHROMIUM"):
        return Path(chosen) if Path(chosen).is_file() else None
    for name in ON_PATH:
        if found := shutil.which(name):
            return Path(found)
    for folder in (Path("/Applications"), Path.home() / "Applications"):
        for app in MACOS_APPS:
            if (folder / app).is_file():
                return folder / app
    return _playwright_download()


def _playwright_download() -> Path | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as playwright:
            path = Path(playwright.chromium.executable_path)
    except Exception:  # noqa: BLE001 - no driver, no download: no browser
        return None
    return path if path.is_file() else None


def chromium_or_skip() -> Path:
    try:
        import playwright  # noqa: F401
    except ImportError:
        require("Playwright for Python", True, "run `make setup` (requirements-dev.txt pins it)")
    chromium = find_chromium()
    require("Chrome or Chromium", chromium is None, HINT)
    assert chromium is not None
    return chromium
