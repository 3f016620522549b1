"""Scrub personal data and secrets out of text that goes to logs or a dead-letter reason.

Error texts from Customer.io or from parsers may echo what they were given; an email address or
a device token in there must not reach a log line or the DLQ reason.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# Long token-like runs: APNs tokens (64 hex), FCM tokens (~150 chars), API keys. UUIDs (36) survive.
_TOKEN = re.compile(r"[A-Za-z0-9_\-:+/=]{40,}")
MAX_REASON = 500


def redact(text: str, limit: int = MAX_REASON) -> str:
    text = _EMAIL.sub("<email>", text)
    text = _TOKEN.sub("<token>", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_validation_error(error: Exception) -> str:
    """A pydantic ValidationError as ``field: message`` lines, without the offending input values."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        try:
            parts = []
            for item in errors(include_input=False, include_url=False, include_context=False):
                where = ".".join(str(p) for p in item.get("loc", ())) or "(root)"
                parts.append(f"{where}: {item.get('msg', 'invalid')}")
            return redact("; ".join(parts))
        except TypeError:
            pass
    return redact(f"{error.__class__.__name__}: {error}")
