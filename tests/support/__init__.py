"""Test infrastructure that talks real protocols.

- :mod:`tests.support.standin`: a Customer.io Pipelines API stand-in (real HTTP server) that enforces
  the seed specs, Basic auth, strict mode and the size limits, with fault injection.
- :mod:`tests.support.sqs_emulator`: moto's server as a subprocess, plus fresh queue pairs.
- :mod:`tests.support.rie`: the Lambda Runtime Interface Emulator from the aws-sam-cli wheel,
  running ``awslambdaric`` against a handler.

The pytest fixtures that wrap them live in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

# The process helpers live in the library, where `ciohooks invoke` uses them too.
from ciohooks.lambda_runtime import BackgroundProcess, die_with_parent, free_port, kill_process_group, wait_for_port  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def require(what: str, missing: bool, hint: str) -> None:
    """Skip (one line) when ``what`` is missing; fail in CI, where every tool the tests need is
    installed by the README's test command."""
    if missing:
        import pytest

        message = f"{what} unavailable: {hint}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
