"""The one message format of both queues (versioned).

A DeliveryQueue message carries the events one webhook became (``kind="events"``) together with
the raw request they came from (credentials stripped), or only the raw request, to translate at
delivery (``kind="request"``: a replay, or events that could not be built at ingest). Whatever
stage fails later, the raw request is there, so a dead letter always replays with today's mapping.

A dead-letter message is the same envelope plus ``failure``: the stage that failed, the error
(never with secrets or personal data), and how many attempts were made. Replaying a dead letter is
sending it, minus ``failure``, back to the DeliveryQueue as ``kind="request"``: it is translated
again, and the events whose messageIds are in ``exclude_ids`` (already queued or delivered from the
same request) are left out, so a replay re-sends only what had not gone through.

A body too large for one SQS message is not this module's concern: ``queue`` stores it in S3 and
queues a pointer (claim check), transparently for both sides.

Version 1 messages (events without the request) are still read: they replay as they are.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

VERSION = 2
Stage = Literal["ingest", "translate", "deliver"]


class Failure(BaseModel):
    stage: Stage
    error: str
    attempts: int = 1
    failed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1, 2] = VERSION
    kind: Literal["events", "request"]
    source: str
    received_at: datetime  # when the provider's request arrived
    # When this webhook was put on the delivery queue: the retry horizon counts from it. Ingest sets
    # it, a remainder put back by deliver keeps it, a replay sets it anew (a fresh horizon). Without
    # it (messages of earlier versions) deliver counts from SQS's SentTimestamp.
    queued_at: datetime | None = None
    events: list[dict[str, Any]] | None = None
    request: dict[str, Any] | None = None  # WebhookRequest.to_dict(), credentials stripped
    exclude_ids: list[str] | None = None  # messageIds NOT to send when ``request`` is translated
    failure: Failure | None = None

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        return cls.model_validate_json(text)

    def failed(self, stage: Stage, error: str, attempts: int = 1) -> Envelope:
        return self.model_copy(update={"failure": Failure(stage=stage, error=error, attempts=attempts)})

    def for_replay(self) -> Envelope:
        """What replay puts back on the DeliveryQueue: the raw request, to translate with today's
        code (a version 1 dead letter without a request replays its events as they are)."""
        if self.request is None:
            return self.model_copy(update={"failure": None, "queued_at": datetime.now(UTC)})
        return self.model_copy(update={"failure": None, "kind": "request", "events": None, "v": VERSION, "queued_at": datetime.now(UTC)})

    def summary(self) -> dict[str, Any]:
        """What an operator sees in a listing: no payload, no personal data."""
        out: dict[str, Any] = {"kind": self.kind, "source": self.source, "received_at": self.received_at.isoformat()}
        if self.events is not None:
            out["events"] = len(self.events)
            out["names"] = sorted({e.get("event", "?") for e in self.events})
        if self.failure:
            out["failure"] = json.loads(self.failure.model_dump_json())
        return out
