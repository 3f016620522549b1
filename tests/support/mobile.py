"""Helpers shared by the mobile source tests (appsflyer, adjust, branch, sentry).

They run requests through the real ingest code with in-process queues, so a test can check what
was answered and what was stored, e.g. that a credential never reaches a queue message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ciohooks.config import Settings
from ciohooks.ingest import Ingest, Outcome
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "mobile"


def settings(**env: str) -> Settings:
    return Settings({f"CIOHOOKS_{k}": v for k, v in env.items()})


def run_ingest(request: WebhookRequest, name: str, **env: str) -> tuple[Outcome, list[dict[str, Any]], list[dict[str, Any]]]:
    """Ingest ``request`` for mobile source ``name``; the outcome and the envelopes queued (delivery, DLQ)."""
    ingest = Ingest("mobile", MemoryQueue(), MemoryQueue(), settings(**env))
    outcome = ingest.handle(name, request)
    delivered = [json.loads(m.body) for m in ingest.delivery_queue.receive(max_messages=10)]
    dead = [json.loads(m.body) for m in ingest.dead_letter_queue.receive(max_messages=10)]
    return outcome, delivered, dead
