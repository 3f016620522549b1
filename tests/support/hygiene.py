"""Data hygiene over the whole test run: no secret or personal data in any log line or DLQ reason.

Every log record of the session (our loggers at any level, libraries' at INFO and above, as a
deployment runs them) and every dead-letter reason
(``Envelope.failed``) is kept; when the session ends they are searched for:

- the secret values the tests configure (events/keys/local.env, the stand-in's API key, and any
  value registered with :func:`register_secret` by a test that makes its own keys);
- anything shaped like an email address, a PEM key, a Standard Webhooks secret (``whsec_``), an
  Expo push token, or an APNs device token (64 hex digits).

A hit fails the session (exit status 1) with the offending lines, redacted.
"""

from __future__ import annotations

import logging
import re
import threading

import pytest

from . import REPO_ROOT

PATTERNS = {
    "email address": re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
    "PEM key": re.compile(r"-----BEGIN [A-Z ]*KEY-----"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/=]{8,}"),
    "Expo push token": re.compile(r"Expo(?:nent)?PushToken\[[^\]]+\]"),
    "APNs device token": re.compile(r"\b[0-9a-fA-F]{64}\b"),
}
_secrets: set[str] = set()
_lines: list[tuple[str, str]] = []  # (where, text)
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """A secret a test made up at run time (a generated key, a token): it must never be logged."""
    if value and len(value) >= 8:
        _secrets.add(value)


def _load_known_secrets() -> None:
    env = REPO_ROOT / "events" / "keys" / "local.env"
    if env.exists():
        for line in env.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                register_secret(value.strip())
    register_secret("test-cio-api-key")


# Our code logs at every level; libraries (botocore, urllib3) are judged at the levels a deployment
# runs them at: their DEBUG output (request dumps, signatures) is never enabled in production.
OWN_LOGGERS = ("ciohooks", "root", "cio-hooks", "tests")


class _Keeper(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.INFO and not record.name.startswith(OWN_LOGGERS):
            return
        try:
            text = record.getMessage()
        except Exception:  # a broken record is not ours to judge
            return
        if record.exc_info and record.exc_info[1] is not None:
            text += " | " + repr(record.exc_info[1])
        with _lock:
            _lines.append((f"log {record.name}:{record.levelname}", text))


def _keep_reason(original):
    def failed(self, stage, error, attempts=1):
        with _lock:
            _lines.append((f"DLQ reason ({stage})", error))
        return original(self, stage, error, attempts)

    return failed


def leaks() -> list[str]:
    with _lock:
        lines = list(_lines)
    return find_leaks(lines, _secrets)


def find_leaks(lines: list[tuple[str, str]], secrets: set[str]) -> list[str]:
    found = []
    for where, text in lines:
        for secret in secrets:
            if secret in text:
                found.append(f"{where}: a configured secret: {text.replace(secret, '<SECRET>')[:300]}")
        for label, pattern in PATTERNS.items():
            if pattern.search(text):
                found.append(f"{where}: {label}: {pattern.sub('<' + label + '>', text)[:300]}")
    return found


def pytest_configure(config: pytest.Config) -> None:
    _load_known_secrets()
    root = logging.getLogger()
    root.addHandler(_Keeper(level=logging.DEBUG))
    if root.level > logging.DEBUG or root.level == logging.NOTSET:
        root.setLevel(logging.DEBUG)
    from ciohooks.envelope import Envelope

    Envelope.failed = _keep_reason(Envelope.failed)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = leaks()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    summary = f"data hygiene: {len(_lines)} log lines and DLQ reasons checked, {len(found)} leaks"
    if reporter is not None:
        reporter.write_line(summary)
        for line in found[:30]:
            reporter.write_line(f"  LEAK {line}")
    if found:
        session.exitstatus = 1


def lines_checked() -> int:
    return len(_lines)


__all__ = ["leaks", "register_secret", "lines_checked"]
