"""Ingest: authenticate, translate, store. The core of every ``<family>_ingest`` function.

Store first (see DESIGN.md): a webhook is acknowledged only once it is durably in SQS.

    401  the request is not authentic (nothing is queued; the reason is logged, never the payload)
    404  no such source on this function
    405  a method the source does not receive
    413  the body is larger than a Function URL carries (6 MB), or than one queue message holds
         where no claim-check bucket is configured (a larger body goes whole to S3, see ``queue``)
    503  the source has no key configured (fail closed), or SQS did not take the message: the
         provider retries (a source whose provider retries only another code says which:
         ``Source.retry_status``, e.g. Brevo's 429)
    2xx  queued for delivery; or authentic but untranslatable, and kept whole in the DLQ; or
         authentic and nothing to deliver (event types deliberately ignored)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from . import sources
from .config import Settings
from .envelope import Envelope
from .identity import NoIdentity
from .queue import ClaimCheck, MessageTooLarge, Queue, QueueUnavailable, SqsQueue
from .redact import describe_validation_error, redact
from .request import WebhookRequest
from .sources import InvalidPayload, NotConfigured, Reply, Source, Translation, Unauthorized

logger = logging.getLogger(__name__)

# A Function URL's request payload limit (6 MB, buffered mode): anything it carries is stored.
DEFAULT_MAX_BODY_BYTES = 6_291_456


class UntranslatableError(Exception):
    """Translation failed; ``reason`` is safe to log and to store (no personal data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def translate(source: Source, request: WebhookRequest) -> Translation:
    """Run a source's translation, turning every way it can fail into one safe reason."""
    try:
        return source.translate(request)
    except (InvalidPayload, NoIdentity) as error:
        raise UntranslatableError(redact(str(error))) from None
    except ValidationError as error:
        raise UntranslatableError(f"payload does not fit the model: {describe_validation_error(error)}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # A provider shape the mapping did not foresee: keep the request, say where it broke.
        raise UntranslatableError(redact(f"unexpected payload shape ({error.__class__.__name__}: {error})")) from None


@dataclass
class Outcome:
    """What ingest did with one request, for the response, the log and the metrics."""

    status: int
    body: dict[str, Any] | str
    result: str  # rejected | ignored | queued | dead_lettered | failed | replied | not_found
    source: str = ""
    events: int = 0
    ignored: int = 0
    content_type: str = "application/json"

    def response_body(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body)


class Ingest:
    def __init__(self, family: str, delivery_queue: Queue, dead_letter_queue: Queue, settings: Settings | None = None) -> None:
        self.family = family
        self.settings = settings or Settings()
        self.delivery_queue, self.dead_letter_queue = delivery_queue, dead_letter_queue
        self.max_body_bytes = self.settings.get_int("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
        enabled = self.settings.get_list("SOURCES")
        self.source_names = [n for n in sources.names(family) if enabled is None or n.split("/", 1)[1] in enabled or n in enabled]
        self._sources: dict[str, Source] = {}

    @classmethod
    def from_environment(cls, family: str, settings: Settings | None = None) -> Ingest:
        settings = settings or Settings()
        claim_check = ClaimCheck.from_settings(settings)  # bodies over 1 MiB go to S3, a pointer to SQS
        return cls(
            family,
            SqsQueue(settings.require("DELIVERY_QUEUE_URL"), claim_check=claim_check),
            SqsQueue(settings.require("DEAD_LETTER_QUEUE_URL"), claim_check=claim_check),
            settings,
        )

    def source(self, name: str) -> Source | None:
        full = f"{self.family}/{name}"
        if full not in self.source_names:
            return None
        if full not in self._sources:
            self._sources[full] = sources.load(full)(self.settings)
        return self._sources[full]

    def handle(self, name: str, request: WebhookRequest) -> Outcome:
        source = self.source(name)
        if source is None:
            return Outcome(404, {"error": f"no source named {name!r} here"}, "not_found")
        full = source.full_name()
        if (reply := source.reply_before_auth(request)) is not None:
            return _replied(reply, full)
        if request.method not in source.methods:
            return Outcome(405, {"error": f"{full} takes {', '.join(source.methods)}"}, "rejected", full)
        if len(request.body) > self.max_body_bytes:
            return Outcome(413, {"error": f"body larger than {self.max_body_bytes} bytes"}, "rejected", full)

        try:
            source.authenticate(request)
        except Unauthorized as error:
            logger.warning("refused %s request: %s", full, redact(str(error)))
            return Outcome(401, {"error": "unauthorized"}, "rejected", full)
        except NotConfigured as error:
            logger.error("refusing %s requests: %s", full, redact(str(error)))
            return Outcome(source.retry_status, {"error": "source not configured"}, "failed", full)
        if (reply := source.reply_after_accept(request)) is not None:
            return _replied(reply, full)

        stored = request.to_dict(source.secret_headers, source.secret_query_keys)
        try:
            translation = translate(source, request)
        except UntranslatableError as error:
            envelope = Envelope(kind="request", source=full, received_at=request.received_at, request=stored)
            return self._dead_letter(envelope.failed("translate", error.reason), source)

        ignored = sum(translation.ignored.values())
        if not translation.events:
            return Outcome(source.ack_status, {"accepted": 0, "ignored": ignored}, "ignored", full, 0, ignored)
        envelope = Envelope(kind="events", source=full, received_at=request.received_at, events=[e.to_cio() for e in translation.events])
        try:
            try:
                self.delivery_queue.put(envelope)
            except MessageTooLarge:
                # Too many events for one message: queue the raw request, deliver translates it.
                self.delivery_queue.put(Envelope(kind="request", source=full, received_at=request.received_at, request=stored))
        except MessageTooLarge:  # only where no claim-check bucket is configured
            logger.error("a %s request too large for one queue message was refused: configure CIOHOOKS_CLAIM_CHECK_BUCKET", full)
            return Outcome(413, {"error": "request too large to queue"}, "rejected", full)
        except QueueUnavailable as error:
            logger.error("could not queue %s request: %s", full, error)
            return Outcome(source.retry_status, {"error": "queue unavailable, retry later"}, "failed", full)
        count = len(translation.events)
        return Outcome(source.ack_status, {"accepted": count, "ignored": ignored}, "queued", full, count, ignored)

    def _dead_letter(self, envelope: Envelope, source: Source) -> Outcome:
        full = source.full_name()
        try:
            self.dead_letter_queue.put(envelope)
        except (QueueUnavailable, MessageTooLarge) as error:
            logger.error("could not dead-letter an untranslatable %s request: %s", full, error)
            return Outcome(source.retry_status, {"error": "queue unavailable, retry later"}, "failed", full)
        logger.warning("kept an untranslatable %s request in the DLQ: %s", full, envelope.failure.error if envelope.failure else "")
        return Outcome(source.ack_status, {"accepted": 0, "dead_lettered": True}, "dead_lettered", full)


def _replied(reply: Reply, full: str) -> Outcome:
    return Outcome(reply.status, reply.body, "replied", full, content_type=reply.content_type)
