"""``ciohooks serve`` as a real subprocess (its own process group), to crash it with ``kill -9``.

:class:`ServeProcess` runs the console script of this venv with ``--local-keys events/keys`` (so the
local samples' signatures are trusted), the sandbox AWS environment plus the ``CIOHOOKS_*`` settings
given, waits for its port, and can be killed hard (:meth:`kill9`) or stopped politely. Requests are
signed as the providers sign them (:func:`signed_post`).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

import requests

from ciohooks import sources
from ciohooks.local import signing_key
from ciohooks.request import WebhookRequest

from . import REPO_ROOT, BackgroundProcess, die_with_parent, free_port, wait_for_port
from .sqs_emulator import sandbox_environ

KEYS = REPO_ROOT / "events" / "keys"


class ServeProcess(BackgroundProcess):
    def __init__(self, settings: Mapping[str, str], cwd: str | Path, aws_env: Mapping[str, str] | None = None) -> None:
        self.settings, self.cwd, self.aws_env = dict(settings), Path(cwd), dict(aws_env or {})
        self.log_path = Path(tempfile.mkstemp(prefix="ciohooks-serve-", suffix=".log")[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServeProcess":
        if self.proc is not None:
            return self
        port = free_port()
        env = {**sandbox_environ(), **self.aws_env, **self.settings, "PYTHONUNBUFFERED": "1"}
        self._log_file = open(self.log_path, "ab")
        script = Path(sys.executable).with_name("ciohooks")
        self.proc = subprocess.Popen(
            [str(script), "serve", "--port", str(port), "--local-keys", str(KEYS)],
            cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )
        if not wait_for_port("127.0.0.1", port, timeout=30, alive=lambda: self.proc is not None and self.proc.poll() is None):
            self.stop()
            raise RuntimeError(f"ciohooks serve did not start:\n{self.log()}")
        self.port = port
        return self

    def kill9(self) -> None:
        """SIGKILL the whole process group at once: no handler, no flush, no shutdown."""
        proc, self.proc = self.proc, None
        if proc is not None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def signed_post(base_url: str, source_name: str, request: WebhookRequest, timeout: float = 15) -> requests.Response:
    """POST ``request`` to ``base_url`` signed with the local key of ``source_name`` (as the provider would)."""
    source = sources.load(source_name)
    # The URL-signing providers (Mandrill) sign the URL the server sees: its host is the server's.
    request = dataclasses.replace(request, received_at=datetime.now(UTC), domain=urlparse(base_url).netloc)
    if (key := signing_key(source, KEYS)) is not None:
        request = source.sign(request, key)
    url = f"{base_url}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
    return requests.request(request.method, url, data=request.body, headers=dict(request.headers), timeout=timeout)
