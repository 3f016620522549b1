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
import signal
import socket
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to 0, read it, release it).

    There is a small race between releasing the port and the server binding it: the servers here
    detect a failed bind and retry with another port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float, alive=lambda: True) -> bool:
    """Poll until ``host:port`` accepts a TCP connection, ``alive()`` turns false, or time runs out."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def die_with_parent() -> None:
    """``preexec_fn`` for server subprocesses: SIGTERM them when the test process dies (Linux), so a
    killed pytest leaves no emulator behind. Note that "parent" is the *thread* that started them."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort only
        pass


def kill_process_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the process group we created (``start_new_session=True``), SIGKILL what is left.

    Only ever the group whose leader is ``proc``, never anything found by name. The leader is not
    reaped before the final SIGKILL, so the group id cannot have been recycled meanwhile."""
    import time

    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)
    # the leader is gone or a zombie: kill anything of its group still running (the RIE's runtime
    # child, for one). A group id stays reserved while any member lives.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:  # pragma: no cover - cannot happen after SIGKILL
        pass


class BackgroundProcess:
    """What the emulator harnesses share: a process group of their own and a log file, stopped
    together, usable as a context manager. Subclasses implement ``start`` (setting ``proc``,
    ``port`` and ``_log_file``) and return ``self`` from it."""

    proc: subprocess.Popen | None = None
    port: int | None = None
    _log_file = None

    def start(self):  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            kill_process_group(proc)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self.port = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
