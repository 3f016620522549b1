"""Deterministic message ids, so a retried or replayed webhook is the same event downstream."""

from __future__ import annotations

import json
import uuid
from typing import Any

# Fixed forever: changing it would change every messageId and break downstream de-duplication.
NAMESPACE = uuid.UUID("5b4f1c36-8f0e-5a8a-9d3e-c10c0ffee000")


def message_id(source: str, provider_event_id: str, *qualifiers: str) -> str:
    """UUIDv5 of the source and the provider's own event id (plus what makes one of several events unique)."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join((source, provider_event_id, *qualifiers))))


def message_id_of_content(source: str, content: Any) -> str:
    """For providers that send no event id: UUIDv5 of the canonical JSON of what they sent."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return message_id(source, canonical)
