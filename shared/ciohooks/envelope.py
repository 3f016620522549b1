"""The one message format of both queues (versioned).

A DeliveryQueue message carries either the events one webhook became (``kind="events"``) or, when
they do not fit in one SQS message, the raw request to translate at delivery (``kind="request"``).
A dead-letter message is the same envelope plus ``failure``: the stage that failed, the error
(never with secrets or personal data), and how many attempts were made. Replaying a dead letter is
sending its envelope, minus ``failure``, back to the DeliveryQueue.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

VERSION = 1
Stage = Literal["ingest", "translate", "deliver"]


class Failure(BaseModel):
    stage: Stage
    error: str
    attempts: int = 1
    failed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = VERSION
    kind: Literal["events", "request"]
    source: str
    received_at: datetime
    events: list[dict[str, Any]] | None = None
    request: dict[str, Any] | None = None
    failure: Failure | None = None

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        return cls.model_validate_json(text)

    def failed(self, stage: Stage, error: str, attempts: int = 1) -> Envelope:
        return self.model_copy(update={"failure": Failure(stage=stage, error=error, attempts=attempts)})

    def for_replay(self) -> Envelope:
        return self.model_copy(update={"failure": None})

    def summary(self) -> dict[str, Any]:
        """What an operator sees in a listing: no payload, no personal data."""
        out: dict[str, Any] = {"kind": self.kind, "source": self.source, "received_at": self.received_at.isoformat()}
        if self.events is not None:
            out["events"] = len(self.events)
            out["names"] = sorted({e.get("event", "?") for e in self.events})
        if self.failure:
            out["failure"] = json.loads(self.failure.model_dump_json())
        return out
