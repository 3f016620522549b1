"""Ingest: authenticate, translate, store. The core of every ``<family>_ingest`` function.

Store first (docs/RELIABILITY.md): a webhook is acknowledged only once it is durably in SQS.

    400  the source's own pre-authentication check refused the body (``Source.reply_before_auth``)
    401  the request is not authentic, or so malformed that authentication cannot be attempted
         (nothing is queued; the reason is logged, never the payload)
    404  no such source on this function; or, when CIOHOOKS_SOURCES (EnabledSources) is empty, a
         source that is not configured here (no secret, no required setting): see "Which sources
         answer" below
    405  a method the source does not receive
    413  the body is larger than MAX_BODY_BYTES (checked before anything reads it; by default a
         Function URL's own 6 MB), or than one queue message holds where no claim-check bucket is
         configured (a larger body goes whole to S3, see ``queue``)
    503  a source listed in CIOHOOKS_SOURCES has no key configured (fail closed), a setting has a bad
         value (``ConfigurationError``, logged with the setting's name), something authentication
         needs is unreachable (the secret store, the replay store, SNS's certificate host), or SQS
         did not take the message: the provider retries (a source whose provider retries only
         another code says which: ``Source.retry_status``, e.g. Brevo's 429)
    2xx  queued for delivery; or authentic and nothing to deliver (event types deliberately
         ignored); or authentic and not all of it translated: the events that did are queued, and
         the whole raw request is kept in the DLQ (stage ``translate``) with their messageIds in
         ``exclude_ids``, so a replay after a mapping fix sends only what was missing.

Nothing a source raises becomes a 500: a probe check that cannot read the body is no probe, an
authentication that cannot read it is a 401, and after authentication the request is kept in the
DLQ with the error's class (never its message, which may quote the payload).

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
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import sources
from .config import ConfigurationError, MissingSetting, Settings, describe
from .envelope import Envelope
from .identity import NoIdentity
from .queue import ClaimCheck, MessageTooLarge, Queue, QueueUnavailable, SqsQueue
from .redact import describe_validation_error, redact
from .request import WebhookRequest
from .sources import InvalidPayload, NotConfigured, Refused, Reply, Source, Translation, Unauthorized, Unavailable
from .sources.base import UNEXPECTED_SHAPE

logger = logging.getLogger(__name__)

# A Function URL's request payload limit (6 MB, buffered mode): anything it carries is stored.
DEFAULT_MAX_BODY_BYTES = 6_291_456


class UntranslatableError(Exception):
    """Translation failed; ``reason`` is safe to log and to store (no personal data)."""

    def __init__(self, reason: str, refused: Refused | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused  # answered to the sender at once (sources.base.Refused)


def translate(source: Source, request: WebhookRequest) -> Translation:
    """Run a source's translation, at ingest and at deliver alike.

    Every way it can fail becomes one safe reason (``UntranslatableError``), except a bad setting
    (``ConfigurationError``), which is not the payload's fault and is raised as it is. A type the
    source counts as ignored without declaring it in ``ignored_types`` becomes unknown, so no
    source can drop a type by mistake."""
    try:
        translation = source.translate(request)
    except ConfigurationError:
        raise
    except Refused as error:
        raise UntranslatableError(redact(str(error)), refused=error) from None
    except (InvalidPayload, NoIdentity) as error:
        raise UntranslatableError(redact(str(error))) from None
    except ValidationError as error:
        raise UntranslatableError(f"payload does not fit the model: {describe_validation_error(error)}") from None
    except Exception as error:  # noqa: BLE001 - whatever breaks, the authentic request is kept
        # A provider shape the mapping did not foresee (or a parser's RecursionError, MemoryError):
        # the class and the code location say where; the message may quote the payload.
        raise UntranslatableError(f"unexpected payload shape ({error.__class__.__name__} in {_code_location(error)})") from None
    translation.unknown_unless_declared(source.ignored_types)
    return translation


def _code_location(error: BaseException) -> str:
    """``module.function`` of the innermost frame in this package: code names only, no values."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if "ciohooks" in Path(frame.filename).parts]
    return f"{Path(frames[-1].filename).stem}.{frames[-1].name}" if frames else "?"


@dataclass(frozen=True)
class Settled:
    """What one translated request becomes: the events to send, and the whole request to keep in
    the DLQ when some of it did not translate (unknown types, failed items)."""

    events: list[dict[str, Any]]
    kept: Envelope | None


def settle(translation: Translation, source: str, received_at: datetime, request: dict[str, Any], exclude_ids: Iterable[str] = ()) -> Settled:
    """Split ``translation``: its events minus ``exclude_ids`` (already queued or delivered from
    this request), and, when it is incomplete, a dead letter of the raw ``request`` (stage
    ``translate``, the reasons) whose ``exclude_ids`` name every event sent from it, so a replay
    after a mapping fix sends only what was missing. Ingest and deliver both call it."""
    excluded = set(exclude_ids)
    events = [event for event in (e.to_cio() for e in translation.events) if event.get("messageId") not in excluded]
    if not translation.incomplete:
        return Settled(events, None)
    sent = sorted(excluded | {str(event["messageId"]) for event in events if event.get("messageId")})
    kept = Envelope(kind="request", source=source, received_at=received_at, request=request, exclude_ids=sent or None)
    return Settled(events, kept.failed("translate", translation.reasons()))


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
    unknown: int = 0  # items of types this version does not know (kept in the DLQ)
    kept: bool = False  # the whole request is in the DLQ (alone, or beside the queued events)

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
        claim_check = ClaimCheck.from_settings(settings)  # bodies over 1 MiB go to S3, a pointer to SQS
        return cls(
            family,
            SqsQueue(settings.require("DELIVERY_QUEUE_URL"), claim_check=claim_check),
            SqsQueue(settings.require("DEAD_LETTER_QUEUE_URL"), claim_check=claim_check),
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
        if (early := self._before_authentication(source, request)) is not None:
            return early
        # A verified identity is ours to establish, never the sender's: drop any, then record the
        # one authentication reached (it is stored with the request, for every re-translation).
        request = replace(request, verified_user_id=None)
        if (refused := self._authenticate(source, request)) is not None:
            return refused
        request = source.attested(request)
        try:
            reply = source.reply_after_accept(request)
        except ConfigurationError as error:
            return self._misconfigured(type(source), error)
        except Exception as error:  # noqa: BLE001 - authentic: translation keeps what cannot be read
            logger.warning("%s handshake check failed (%s); translating the request", full, error.__class__.__name__)
            reply = None
        if reply is not None:
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
        return self._store(source, request, stored, translation)

    def _before_authentication(self, source: Source, request: WebhookRequest) -> Outcome | None:
        """The size limit (before anything reads the body), a provider's probe, the method."""
        full = source.full_name()
        wrong_method = Outcome(405, {"error": f"{full} takes {', '.join(source.methods)}"}, "rejected", full)
        if len(request.body) > self.max_body_bytes:  # a probe has no body
            return wrong_method if request.method not in source.methods else Outcome(413, {"error": f"body larger than {self.max_body_bytes} bytes"}, "rejected", full)
        try:
            reply = source.reply_before_auth(request)
        except Exception as error:  # noqa: BLE001 - a probe check that cannot read the body: no probe
            logger.info("%s probe check could not read the body (%s); authenticating it", full, error.__class__.__name__)
            reply = None
        if reply is not None:
            return _replied(reply, full)
        return wrong_method if request.method not in source.methods else None

    def _authenticate(self, source: Source, request: WebhookRequest) -> Outcome | None:
        """None when the request is authentic; else the refusal."""
        full = source.full_name()
        try:
            source.authenticate(request)
        except Unauthorized as error:
            logger.warning("refused %s request: %s", full, redact(str(error)))
            return Outcome(401, {"error": "unauthorized"}, "rejected", full)
        except ConfigurationError as error:  # NotConfigured included: fail closed
            return self._misconfigured(type(source), error)
        except Unavailable as error:  # something authentication needs is unreachable: retry later
            logger.error("could not authenticate a %s request: %s", full, redact(str(error)))
            return Outcome(source.retry_status, {"error": "temporarily unavailable, retry later"}, "failed", full)
        except (*UNEXPECTED_SHAPE, MemoryError) as error:  # a body too malformed to find credentials in
            logger.warning("refused %s request: authentication cannot be attempted on this body (%s)", full, error.__class__.__name__)
            return Outcome(401, {"error": "unauthorized"}, "rejected", full)
        except Exception as error:  # noqa: BLE001 - a dependency (the secret store...) failed: retry later
            logger.error("could not authenticate a %s request (%s): asking the provider to retry", full, error.__class__.__name__)
            return Outcome(source.retry_status, {"error": "cannot check credentials now, retry later"}, "failed", full)
        return None

    def _store(self, source: Source, request: WebhookRequest, stored: dict[str, Any], translation: Translation) -> Outcome:
        """Queue the events (with the raw request), keep what did not translate in the DLQ; 2xx only
        once both are stored."""
        full = source.full_name()
        settled = settle(translation, full, request.received_at, stored)
        ignored, unknown = sum(translation.ignored.values()), sum(translation.unknown.values())
        kept = settled.kept
        if settled.events:
            queued_at = datetime.now(UTC)
            envelope = Envelope(kind="events", source=full, received_at=request.received_at, queued_at=queued_at, events=settled.events, request=stored)
            try:
                try:
                    self.delivery_queue.put(envelope)
                except MessageTooLarge:
                    # Too many events for one message: queue the raw request alone. Deliver
                    # translates it, and keeps what does not translate itself (so not here too).
                    self.delivery_queue.put(Envelope(kind="request", source=full, received_at=request.received_at, queued_at=queued_at, request=stored))
                    kept = None
            except MessageTooLarge:
                logger.error("a %s request too large for one queue message was refused: configure CIOHOOKS_CLAIM_CHECK_BUCKET", full)
                return Outcome(413, {"error": "request too large to queue"}, "rejected", full)
            except QueueUnavailable as error:
                logger.error("could not queue %s request: %s", full, error)
                return Outcome(source.retry_status, {"error": "queue unavailable, retry later"}, "failed", full)
        if kept is not None:
            dead = self._dead_letter(kept, source)
            if dead.status != source.ack_status:  # the DLQ did not take it: the provider retries it all
                return dead
            if not settled.events:
                dead.ignored, dead.unknown = ignored, unknown
                return dead
        count = len(settled.events)
        if not count and kept is None:
            return Outcome(source.ack_status, {"accepted": 0, "ignored": ignored}, "ignored", full, 0, ignored)
        body: dict[str, Any] = {"accepted": count, "ignored": ignored}
        if kept is not None:
            body["dead_lettered"] = True
        return Outcome(source.ack_status, body, "queued", full, count, ignored, unknown=unknown, kept=kept is not None)

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
        return Outcome(source.ack_status, {"accepted": 0, "dead_lettered": True}, "dead_lettered", full, kept=True)


def _not_found(name: str) -> Outcome:
    return Outcome(404, {"error": f"no source named {name!r} here"}, "not_found")


def _replied(reply: Reply, full: str) -> Outcome:
    return Outcome(reply.status, reply.body, "replied", full, content_type=reply.content_type)
