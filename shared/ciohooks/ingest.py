"""Ingest: authenticate, translate, store. The core of every ``<family>_ingest`` function.

Store first (see DESIGN.md): a webhook is acknowledged only once it is durably in SQS.

    401  the request is not authentic (nothing is queued; the reason is logged, never the payload)
    404  no such source on this function; or, when CIOHOOKS_SOURCES (EnabledSources) is empty, a
         source that is not configured here (no secret, no required setting): see "Which sources
         answer" below
    405  a method the source does not receive
    413  the body is larger than one queue message can hold
    503  a source listed in CIOHOOKS_SOURCES has no key configured (fail closed), a setting has a bad
         value (``ConfigurationError``, logged with the setting's name), something authentication
         needs is unreachable (the replay store, SNS's certificate host), or SQS did not take the
         message: the provider retries (a source whose provider retries only another code says
         which: ``Source.retry_status``, e.g. Brevo's 429)
    2xx  queued for delivery; or authentic but untranslatable, and kept whole in the DLQ; or
         authentic and nothing to deliver (event types deliberately ignored)

Which sources answer: with CIOHOOKS_SOURCES set, exactly the sources it lists, and a listed source
that is missing its secret or a required setting fails closed with its ``retry_status`` (the
provider retries, the 5xx alarm fires, ``ciohooks doctor`` says what is missing). With it empty,
every source of the family whose configuration is present; the others answer 404, costing no
alarm (and, since an absent secret is cached like a found one, one store lookup per 5 minutes).
A configuration error is never a payload problem: it is never dead-lettered.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from . import sources
from .config import ConfigurationError, MissingSetting, Settings, describe
from .envelope import Envelope
from .identity import NoIdentity
from .queue import MessageTooLarge, Queue, QueueUnavailable, SqsQueue
from .redact import describe_validation_error, redact
from .request import WebhookRequest
from .sources import InvalidPayload, NotConfigured, Refused, Reply, Source, Translation, Unauthorized, Unavailable

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1_000_000


class UntranslatableError(Exception):
    """Translation failed; ``reason`` is safe to log and to store (no personal data)."""

    def __init__(self, reason: str, refused: Refused | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused  # answered to the sender at once (sources.base.Refused)


def translate(source: Source, request: WebhookRequest) -> Translation:
    """Run a source's translation, turning every way it can fail into one safe reason."""
    try:
        return source.translate(request)
    except Refused as error:
        raise UntranslatableError(redact(str(error)), refused=error) from None
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
        # Listed sources fail closed when unconfigured; without a list, unconfigured ones are 404.
        self.listed = enabled is not None
        self.source_names = [n for n in sources.names(family) if enabled is None or n.split("/", 1)[1] in enabled or n in enabled]
        self._sources: dict[str, Source] = {}

    @classmethod
    def from_environment(cls, family: str, settings: Settings | None = None) -> Ingest:
        settings = settings or Settings()
        return cls(
            family,
            SqsQueue(settings.require("DELIVERY_QUEUE_URL")),
            SqsQueue(settings.require("DEAD_LETTER_QUEUE_URL")),
            settings,
        )

    def source(self, name: str) -> Source | None:
        """The source serving ``name`` on this function, built once per container (its settings are
        read and checked then: a bad one raises ``ConfigurationError``, and the next request tries
        again); ``None`` when there is no such source here."""
        full = f"{self.family}/{name}"
        if full not in self.source_names:
            return None
        if full not in self._sources:
            self._sources[full] = sources.load(full)(self.settings)
        return self._sources[full]

    def handle(self, name: str, request: WebhookRequest) -> Outcome:
        try:
            source = self.source(name)
        except ConfigurationError as error:
            return self._misconfigured(sources.load(f"{self.family}/{name}"), error)
        if source is None:
            return _not_found(name)
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
        except ConfigurationError as error:  # NotConfigured (no key) included
            return self._misconfigured(type(source), error)
        except Unavailable as error:
            logger.error("could not authenticate a %s request: %s", full, redact(str(error)))
            return Outcome(source.retry_status, {"error": "temporarily unavailable, retry later"}, "failed", full)
        if (reply := source.reply_after_accept(request)) is not None:
            return _replied(reply, full)

        stored = request.to_dict(source.secret_headers, source.secret_query_keys)
        try:
            translation = translate(source, request)
        except ConfigurationError as error:  # a setting read late: the operator's fault, never the payload's
            return self._misconfigured(type(source), error)
        except UntranslatableError as error:
            if error.refused is not None:
                logger.warning("refused a %s request its sender can fix: %s", full, error.reason)
                return Outcome(error.refused.status, error.refused.body(), "rejected", full)
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
        except MessageTooLarge:
            return Outcome(413, {"error": "request too large to queue"}, "rejected", full)
        except QueueUnavailable as error:
            logger.error("could not queue %s request: %s", full, error)
            return Outcome(source.retry_status, {"error": "queue unavailable, retry later"}, "failed", full)
        count = len(translation.events)
        return Outcome(source.ack_status, {"accepted": count, "ignored": ignored}, "queued", full, count, ignored)

    def _misconfigured(self, source: type[Source], error: ConfigurationError) -> Outcome:
        """A configuration fault, whichever setting: 404 for an unlisted source that is simply not
        set up here, else the provider's retry status and an error naming the setting."""
        full = source.full_name()
        if not self.listed and isinstance(error, (NotConfigured, MissingSetting)) and not self._set_up_here(source):
            logger.info("%s is not configured here, answering 404: %s", full, describe(error))
            return _not_found(source.name)
        logger.error("refusing %s requests, configuration error: %s", full, describe(error))
        return Outcome(source.retry_status, {"error": "source not configured"}, "failed", full)

    def _set_up_here(self, source: type[Source]) -> bool:
        """Whether the deployment holds any of the source's configuration (one of its secrets, one of
        its required settings): then a fault is a wrong value to fix, never a reason to vanish."""
        if source.installed_by_definition:
            return True
        try:
            return any(self.settings.secret(n) for n in source.secret_names) or any(self.settings.get(n) for n in source.required_settings)
        except Exception:  # noqa: BLE001 (the store cannot say: fail closed, answer the retry status)
            return True

    def _dead_letter(self, envelope: Envelope, source: Source) -> Outcome:
        full = source.full_name()
        try:
            self.dead_letter_queue.put(envelope)
        except (QueueUnavailable, MessageTooLarge) as error:
            logger.error("could not dead-letter an untranslatable %s request: %s", full, error)
            return Outcome(source.retry_status, {"error": "queue unavailable, retry later"}, "failed", full)
        logger.warning("kept an untranslatable %s request in the DLQ: %s", full, envelope.failure.error if envelope.failure else "")
        return Outcome(source.ack_status, {"accepted": 0, "dead_lettered": True}, "dead_lettered", full)


def _not_found(name: str) -> Outcome:
    return Outcome(404, {"error": f"no source named {name!r} here"}, "not_found")


def _replied(reply: Reply, full: str) -> Outcome:
    return Outcome(reply.status, reply.body, "replied", full, content_type=reply.content_type)
