"""Helpers shared by the mobile source tests (appsflyer, adjust, branch, sentry).

They run requests through the real ingest code with in-process queues, so a test can check what
was answered and what was stored, e.g. that a credential never reaches a queue message.
"""

from __future__ import annotations

import json
import re
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


# ---- the event tables of the guides (issue 13, item 1) ---------------------------------------------

EVENT_TABLE = re.compile(r"<!-- event-table -->\n(.*?)<!-- /event-table -->", re.S)
UNKNOWN = "unknown (kept)"
ANY_OTHER = "any other"


def event_table_rows(source: type[Any]) -> list[tuple[str, str, str | None]]:
    """What a mobile source's guide table must say, derived from the code: every mapped type with
    its Customer.io event (the why is the guide's own words, not checked), every ignored type with
    ``ignored`` and its reason, and the catch-all row for types this version does not know."""
    rows: list[tuple[str, str, str | None]] = [(kind, event, None) for kind, event in source.mapped_types.items()]
    rows += [(kind, "ignored", reason) for kind, reason in source.ignored_types.items()]
    if source.name == "backend":  # our own contract: a type it does not know is refused with 400, not kept
        return rows
    return [*rows, (ANY_OTHER, UNKNOWN, None)]


def render_event_table(source: type[Any], why: dict[str, str]) -> str:
    """The markdown table ``event_table_rows`` describes (used once to write the guides)."""
    lines = ["| provider event | becomes | why |", "|---|---|---|"]
    for kind, becomes, reason in event_table_rows(source):
        if kind == ANY_OTHER:
            text = "kept whole in the DLQ with the reason; a later version's mapping replays it"
            lines.append(f"| {ANY_OTHER} | {UNKNOWN} | {text} |")
        else:
            lines.append(f"| `{kind}` | {becomes} | {reason if reason is not None else why.get(kind, '')} |")
    return "\n".join(lines) + "\n"


def guide_rows(markdown: str) -> list[tuple[str, str, str]]:
    """The rows of a guide's event table: (provider event without backticks, becomes, why)."""
    found = EVENT_TABLE.search(markdown)
    if found is None:
        raise AssertionError("the guide has no <!-- event-table --> block")
    rows = []
    for line in found.group(1).splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        rows.append((cells[0].strip("`"), cells[1], cells[2] if len(cells) > 2 else ""))
    return rows
