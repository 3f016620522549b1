"""``/opt/python`` as the deployed layer has it (requirements.txt + shared/ciohooks), built for this
machine's architecture, for running the functions under the Lambda Runtime Interface Emulator.

The dependencies are installed once per hash of requirements.txt (cached in .pytest_cache); the
library is copied fresh every time, so a run always tests the code of the working tree.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from . import REPO_ROOT


def build_layer_dir() -> Path:
    requirements = REPO_ROOT / "requirements.txt"
    target = REPO_ROOT / ".pytest_cache" / f"layer-{hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]}"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target), "-r", str(requirements)],
            check=True, capture_output=True,  # pip's notes would drown the test report
        )
        (target / ".complete").touch()
    layer = target.parent / f"{target.name}-with-ciohooks"
    shutil.rmtree(layer, ignore_errors=True)
    shutil.copytree(target, layer, symlinks=True)
    shutil.copytree(REPO_ROOT / "shared" / "ciohooks", layer / "ciohooks", ignore=shutil.ignore_patterns("__pycache__"))
    return layer
