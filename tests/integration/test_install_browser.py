"""scripts/install-browser.sh on the machines users have: it uses the Chrome or Chromium and ffmpeg it
finds; where none can be had it says so in one line per missing tool and lets `make test` go on;
with CI=true it fails. Run with a PATH holding only what each case needs (no apt-get, no sudo, no
brew, no Playwright), so nothing is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

pytestmark = pytest.mark.integration

SCRIPT = REPO_ROOT / "scripts" / "install-browser.sh"


def run(bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": str(bin_dir), "HOME": str(bin_dir.parent), "PYTHON_VENV": "/nonexistent", **env}
    return subprocess.run([shutil.which("bash") or "/bin/bash", str(SCRIPT)], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60)


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "id").symlink_to(shutil.which("id"))
    return folder


def fake(folder: Path, name: str) -> Path:
    tool = folder / name
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    return tool


def test_a_machine_with_chrome_and_ffmpeg_uses_them(bin_dir: Path) -> None:
    fake(bin_dir, "google-chrome")
    fake(bin_dir, "ffmpeg")
    done = run(bin_dir)
    assert done.returncode == 0
    assert done.stdout.strip() == f"install-browser: using {bin_dir}/google-chrome and {bin_dir}/ffmpeg"


def test_a_machine_without_them_says_so_and_lets_the_rest_run(bin_dir: Path) -> None:
    done = run(bin_dir)
    assert done.returncode == 0
    assert done.stdout.strip().splitlines() == [
        "install-browser: no Chrome or Chromium on this machine and none could be installed: the browser tests will skip (everything else runs)",
        "install-browser: no ffmpeg (for the HTML5 clip) on this machine and none could be installed: the browser tests will skip (everything else runs)",
    ]


def test_ci_requires_them(bin_dir: Path) -> None:
    fake(bin_dir, "ffmpeg")
    done = run(bin_dir, CI="true")
    assert done.returncode == 1
    assert done.stderr.strip() == "install-browser: Chrome or Chromium could not be installed, and CI requires the browser tests"


def test_a_chosen_browser_wins(bin_dir: Path, tmp_path: Path) -> None:
    chosen = fake(tmp_path, "my-chromium")
    fake(bin_dir, "ffmpeg")
    done = run(bin_dir, CIOHOOKS_CHROMIUM=str(chosen))
    assert done.returncode == 0 and f"using {chosen} and" in done.stdout


def test_the_tests_find_the_browser_the_same_way(bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.browser import find_chromium

    monkeypatch.delenv("CIOHOOKS_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    chromium = fake(bin_dir, "chromium-browser")
    assert find_chromium() == chromium
    chosen = fake(tmp_path, "my-chromium")
    monkeypatch.setenv("CIOHOOKS_CHROMIUM", str(chosen))
    assert find_chromium() == chosen
