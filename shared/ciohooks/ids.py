"""Deterministic message ids, so a retried or replayed webhook is the same event downstream."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

# Fixed forever: changing it would change every messageId and break downstream de-duplication.
NAMESPACE = uuid.UUID("5b4f1c36-8f0e-5a8a-9d3e-c10c0ffee000")


_NAMESPACE_BYTES = NAMESPACE.bytes


def message_id(source: str, provider_event_id: str, *qualifiers: str) -> str:
    """UUIDv5 of the source and the provider's own event id (plus what makes one of several events unique).

    The same value as ``str(uuid.uuid5(NAMESPACE, name))`` (a test holds them equal), computed
    without the UUID object: it runs once per event, on the hot path.
    """
    name = "\x1f".join((source, provider_event_id, *qualifiers))
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def message_id_of_content(source: str, content: Any) -> str:
    """For providers that send no event id: UUIDv5 of the canonical JSON of what they sent."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return message_id(source, canonical)
