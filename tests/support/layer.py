"""``/opt/python`` as the deployed layer has it, for the Lambda runtime emulator: the library's
:func:`ciohooks.lambda_runtime.build_layer_dir` (what ``ciohooks invoke --layer`` runs), cached in
.pytest_cache."""

from __future__ import annotations

from pathlib import Path

from ciohooks.lambda_runtime import build_layer_dir as _build

from . import REPO_ROOT


def build_layer_dir() -> Path:
    return _build(REPO_ROOT, REPO_ROOT / ".pytest_cache")
