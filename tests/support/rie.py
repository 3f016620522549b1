"""The Lambda Runtime Interface Emulator for the tests: :mod:`ciohooks.lambda_runtime` (the same code
``ciohooks invoke`` runs), with this repository's ``.venv-sam`` and ``.venv`` as defaults."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ciohooks import lambda_runtime
from ciohooks.lambda_runtime import LambdaInvokeError, RieUnavailable, is_error, runtime_client_dir  # noqa: F401

from . import REPO_ROOT


def find_rie_binary(repo_root: str | os.PathLike[str] | None = None) -> Path:
    return lambda_runtime.find_rie_binary(repo_root or REPO_ROOT)


def default_python() -> str:
    """The project's ``.venv`` interpreter (it has awslambdaric), else the one running the tests."""
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


class LambdaRie(lambda_runtime.LambdaRie):
    def __init__(self, *args: Any, python: str | None = None, repo_root: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, python=python or default_python(), repo_root=repo_root or REPO_ROOT, **kwargs)


def rie_available() -> tuple[bool, str]:
    """(True, path) or (False, why) -- for skip/fail decisions."""
    try:
        return True, str(find_rie_binary())
    except RieUnavailable as exc:
        return False, str(exc)
