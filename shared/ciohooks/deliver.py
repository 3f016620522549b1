"""Deliver: from DeliveryQueue messages to Customer.io, with failures isolated to what caused them.

All events of one SQS batch are packed together (≥100 events per Customer.io request under load).
Per message (record) the outcome is one of:

- done: every event was accepted, or refused by Customer.io (400) and dead-lettered once with the
  raw request and ``exclude_ids`` (every other event of the message), so a replay translates the
  request again with today's code and sends only what was refused. Events refused while others
  are still unsent: the refused ones are dead-lettered, the unsent ones put back as a new message
  (they keep the request and the ids to exclude), and the original message is done.
- retry: some events could not be sent now (429/5xx/timeout/no time left), or handling this one
  message failed in any way (logged with its messageId). The record is reported as a batch item
  failure and backed off with ``ChangeMessageVisibility``: exponential in the receive count with
  full jitter, never shorter than ``Retry-After``, capped (``DELIVERY_BACKOFF_CAP_SECONDS``).
  Its delivered events are sent again with the same ``messageId`` (idempotent downstream).
- past the retry horizon (``DELIVERY_RETRY_HORIZON_HOURS``, 72 by default, counted from when the
  webhook was first queued: the envelope's ``queued_at``): its undelivered events go to the DLQ
  at stage ``deliver``, with the reason.
  Nothing else sends a message to the DLQ while Customer.io is down: a 24-hour outage only delays.

A raw-request message (too big for events at ingest, or a replayed dead letter) is translated here
with today's code, so a mapping fix heals old failures.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from . import budgets, sources
from .config import ConfigurationError, Settings, in_lambda
from .customerio import SendResult
from .envelope import Envelope
from .ingest import UntranslatableError, settle, translate
from .queue import MAX_VISIBILITY_SECONDS, ClaimCheck, Queue, resolve
from .redact import describe_validation_error, redact
from .request import WebhookRequest

logger = logging.getLogger(__name__)
metrics = Metrics()  # shares its metric set with the function module's Metrics(), which flushes it

DEFAULT_HORIZON_HOURS = 72
DEFAULT_BACKOFF_BASE_SECONDS = 30
DEFAULT_BACKOFF_CAP_SECONDS = 1800


class Sink(Protocol):
    def send(self, events: Sequence[dict[str, Any]], deadline: float | None = None) -> SendResult: ...


@dataclass(frozen=True)
class InboundMessage:
    message_id: str
    body: str
    receive_count: int = 1
    receipt: str | None = None  # to back the message off (ChangeMessageVisibility)
    sent_at: float | None = None  # epoch seconds it was queued (SQS SentTimestamp)


@dataclass
class DeliveryReport:
    retry: set[str] = field(default_factory=set)  # message ids to report as batch item failures
    backoff: dict[str, int] = field(default_factory=dict)  # message id -> seconds until its next receive
    delivered: int = 0
    dead_lettered: int = 0
    requeued: int = 0  # unsent remainders put back as new messages
    requests: int = 0
    oldest_age_seconds: float = 0.0
    last_error: str | None = None  # why Customer.io did not take every event
    retry_after: float | None = None  # the longest Retry-After it asked for


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a message is retried (settings ``DELIVERY_*``)."""

    horizon_seconds: float = DEFAULT_HORIZON_HOURS * 3600
    backoff_base: float = DEFAULT_BACKOFF_BASE_SECONDS
    backoff_cap: float = DEFAULT_BACKOFF_CAP_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        policy = cls(
            horizon_seconds=settings.get_float("DELIVERY_RETRY_HORIZON_HOURS", DEFAULT_HORIZON_HOURS) * 3600,
            backoff_base=settings.get_float("DELIVERY_BACKOFF_BASE_SECONDS", DEFAULT_BACKOFF_BASE_SECONDS),
            backoff_cap=settings.get_float("DELIVERY_BACKOFF_CAP_SECONDS", DEFAULT_BACKOFF_CAP_SECONDS),
        )
        if not 0 < policy.backoff_base <= policy.backoff_cap <= MAX_VISIBILITY_SECONDS:
            raise ConfigurationError("CIOHOOKS_DELIVERY_BACKOFF_BASE_SECONDS/CAP_SECONDS: need 0 < base <= cap <= 43200 (SQS's longest visibility)")
        if policy.horizon_seconds <= 0:
            raise ConfigurationError("CIOHOOKS_DELIVERY_RETRY_HORIZON_HOURS must be positive")
        return policy

    def backoff(self, receive_count: int, retry_after: float | None = None, rng: random.Random | None = None) -> int:
        """Seconds until the next receive: full jitter over base x 2^(receives-1) (at least the
        base, so a message is not received more than once per base seconds), never shorter than
        ``Retry-After``, never longer than the cap."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(max(receive_count, 1) - 1, 30))
        delay = max(self.backoff_base, (rng or random).uniform(0, ceiling))
        if retry_after is not None:
            delay = max(delay, retry_after)
        return int(math.ceil(min(delay, self.backoff_cap)))

    def horizon_text(self) -> str:
        hours = self.horizon_seconds / 3600
        return f"{hours:g} hours" if hours >= 1 else f"{self.horizon_seconds:g} seconds"


@dataclass
class _Pending:
    """One message on its way: its envelope and what became of each of its events."""

    message: InboundMessage
    envelope: Envelope
    events: list[dict[str, Any]]
    delivered: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)
    kept: Envelope | None = None  # what of a re-translated request still does not translate


class Deliverer:
    def __init__(self, sink: Sink, dead_letter_queue: Queue, settings: Settings | None = None, *,
                 delivery_queue: Any = None, claim_check: ClaimCheck | None = None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.sink, self.dead_letter_queue, self.delivery_queue = sink, dead_letter_queue, delivery_queue
        self.settings = settings or Settings()
        self.policy = RetryPolicy.from_settings(self.settings)
        self.claim_check = claim_check
        self._clock, self._rng = clock, rng or random.Random()
        self._sources: dict[str, sources.Source] = {}

    def deliver(self, messages: Iterable[InboundMessage], deadline: float | None = None) -> DeliveryReport:
        """``deadline`` (``time.monotonic()``) is when Customer.io requests stop; settling the batch
        (dead letters, remainders, backoffs) gets ``budgets.DELIVER_SETTLE_SECONDS`` more."""
        report = DeliveryReport()
        pending: list[_Pending] = []
        messages = list(messages)
        for message in messages:
            report.oldest_age_seconds = max(report.oldest_age_seconds, self._clock() - (message.sent_at or self._clock()))
            try:
                # Opening may read a claim-checked body (S3) before the send deadline, and dead-letter
                # the message after it, within the settle reserve.
                if deadline is not None and time.monotonic() > deadline - budgets.S3_GET.worst_case_seconds():
                    raise TimeoutError("no time left in this invocation")
                item = self._open(message, report)
            except Exception as error:  # one message's failure is that message's alone
                _log_failure("failed before delivery; it will be retried", message.message_id, error)
                self._retry(message, report)
                continue
            if item is not None:
                pending.append(item)

        if any(item.events for item in pending):
            self._send(pending, deadline, report)
        settle_deadline = None if deadline is None else deadline + budgets.DELIVER_SETTLE_SECONDS
        for item in pending:
            try:
                self._settle(item, report, settle_deadline)
            except Exception as error:
                _log_failure("could not be settled; it will be retried", item.message.message_id, error)
                self._retry(item.message, report)
        self._back_off(report, {m.message_id: m for m in messages}, settle_deadline)
        return report

    # -- one message ------------------------------------------------------------------------------

    def _open(self, message: InboundMessage, report: DeliveryReport) -> _Pending | None:
        """The message's envelope and the events to send; None when it was settled on the spot."""
        body = resolve(message.body, self.claim_check)
        try:
            envelope = Envelope.from_json(body)
        except ValidationError as error:
            # Not ours or corrupted: kept whole in the DLQ at once, as the redrive policy would.
            logger.error("message %s is not a cio-hooks envelope (%s): dead-lettered as it is", message.message_id, describe_validation_error(error))
            self.dead_letter_queue.put_raw(message.body)
            report.dead_lettered += 1
            return None
        if envelope.kind == "events":
            excluded = set(envelope.exclude_ids or ())
            return _Pending(message, envelope, [e for e in envelope.events or [] if e.get("messageId") not in excluded])
        try:
            source = self._source(envelope.source)
        except KeyError:
            self._dead_letter(envelope.failed("translate", f"unknown source: {envelope.source[:64]!r}", message.receive_count), message, report)
            return None
        try:
            request = WebhookRequest.from_dict(envelope.request or {})
        except Exception as error:  # noqa: BLE001 - a stored request no code can read: kept, not retried forever
            self._dead_letter(envelope.failed("translate", f"stored request unreadable ({error.__class__.__name__})", message.receive_count), message, report)
            return None
        try:
            translation = translate(source, request)
        except UntranslatableError as error:
            self._dead_letter(envelope.failed("translate", error.reason, message.receive_count), message, report)
            return None
        # What was already sent from this request is left out; what still does not translate is kept
        # (dead-lettered once the message is done, so a retried message does not keep it twice).
        settled = settle(translation, envelope.source, envelope.received_at, envelope.request or {}, envelope.exclude_ids or ())
        return _Pending(message, envelope, settled.events, kept=settled.kept)

    def _source(self, full_name: str) -> sources.Source:
        if full_name not in self._sources:
            self._sources[full_name] = sources.load(full_name)(self.settings)
        return self._sources[full_name]

    # -- Customer.io --------------------------------------------------------------------------------

    def _send(self, pending: list[_Pending], deadline: float | None, report: DeliveryReport) -> None:
        try:
            self._send_together(pending, deadline, report)
        except Exception as error:
            # Something no one foresaw broke the packed request: send each message alone, so one
            # message's cause fails that message only.
            _log_failure("was sent with others in a request that failed; sending message by message", ", ".join(i.message.message_id for i in pending), error)
            for item in pending:
                item.delivered, item.rejected, item.unsent = [], [], []
                try:
                    self._send_together([item], deadline, report)
                except Exception as alone:
                    _log_failure("could not be sent; it will be retried", item.message.message_id, alone)
                    item.delivered, item.rejected, item.unsent = [], [], list(item.events)

    def _send_together(self, pending: list[_Pending], deadline: float | None, report: DeliveryReport) -> None:
        owner = {id(event): item for item in pending for event in item.events}
        result = self.sink.send([event for item in pending for event in item.events], deadline)
        report.requests += result.requests
        report.last_error = result.last_error or report.last_error
        if result.retry_after is not None:
            report.retry_after = max(report.retry_after or 0.0, result.retry_after)
        for event in result.delivered:
            owner[id(event)].delivered.append(event)
        for rejection in result.rejected:
            owner[id(rejection.event)].rejected.append((rejection.event, rejection.reason))
        for event in result.unsent:
            owner[id(event)].unsent.append(event)
        if result.unsent:
            logger.warning("%d events not delivered yet (%s); their messages will be retried", len(result.unsent), result.last_error)

    # -- settling ---------------------------------------------------------------------------------

    def _settle(self, item: _Pending, report: DeliveryReport, deadline: float | None) -> None:
        self._settle_events(item, report, deadline)
        if item.kept is not None and item.message.message_id not in report.retry:
            if not self._in_time(deadline):
                self._retry(item.message, report)
                return
            failure = item.kept.failure
            self._dead_letter(item.kept.failed("translate", failure.error if failure else "", item.message.receive_count), item.message, report)

    def _settle_events(self, item: _Pending, report: DeliveryReport, deadline: float | None) -> None:
        message, envelope = item.message, item.envelope
        report.delivered += len(item.delivered)
        queued_at = _queued_at(message, envelope)
        age = self._clock() - queued_at.timestamp()
        report.oldest_age_seconds = max(report.oldest_age_seconds, age)  # what the horizon counts
        past_horizon = age >= self.policy.horizon_seconds
        if item.unsent and not past_horizon and not item.rejected:
            self._retry(message, report)
            return
        ids = {e.get("messageId") for e in item.events}
        if item.unsent and not past_horizon:
            # Refused and unsent events in one message: the unsent ones go on as a new message (put
            # first: if the dead letter then fails, a retry only re-sends, it never loses).
            unsent_ids = {e.get("messageId") for e in item.unsent}
            remainder = Envelope(kind="events", source=envelope.source, received_at=envelope.received_at, queued_at=queued_at, events=item.unsent,
                                 request=envelope.request, exclude_ids=_ids(ids - unsent_ids, envelope))
            if not self._in_time(deadline) or not self._put(self.delivery_queue, remainder, message, "put back the unsent events of"):
                self._retry(message, report)
                return
            report.requeued += 1
            item.unsent = []
        failed = list(item.rejected)
        if item.unsent:  # past the horizon
            why = f"not delivered within the retry horizon of {self.policy.horizon_text()}: {report.last_error or 'no answer'}"
            failed += [(event, why) for event in item.unsent]
        if failed:
            failed_ids = {e.get("messageId") for e, _ in failed}
            reasons = "; ".join(sorted({reason for _, reason in failed}))
            if not self._in_time(deadline):
                self._retry(message, report)
                return
            dead = envelope.model_copy(update={"kind": "events", "events": [e for e, _ in failed], "exclude_ids": _ids(ids - failed_ids, envelope)})
            self._dead_letter(dead.failed("deliver", reasons, message.receive_count), message, report)

    def _in_time(self, deadline: float | None) -> bool:
        """Time for one more put before ``deadline``: a SendMessage, and a PutObject when the
        envelope is claim-checked."""
        return deadline is None or deadline - time.monotonic() > budgets.DELIVER_SETTLE_SECONDS

    def _put(self, queue: Any, envelope: Envelope, message: InboundMessage, what: str) -> bool:
        if queue is None:
            logger.error("no delivery queue to %s message %s", what, message.message_id)
            return False
        try:
            queue.put(envelope)
        except Exception as error:  # the class only: an unforeseen error's text may quote the envelope
            logger.error("could not %s message %s (%s)", what, message.message_id, error.__class__.__name__)
            return False
        return True

    def _dead_letter(self, envelope: Envelope, message: InboundMessage, report: DeliveryReport) -> None:
        if not self._put(self.dead_letter_queue, envelope, message, "dead-letter from"):
            report.retry.add(message.message_id)
            return
        report.dead_lettered += len(envelope.events or []) or 1
        failure = envelope.failure
        logger.warning("dead-lettered from message %s at stage %s: %s", message.message_id, failure.stage if failure else "?", failure.error if failure else "")

    def _retry(self, message: InboundMessage, report: DeliveryReport) -> None:
        report.retry.add(message.message_id)
        report.backoff[message.message_id] = self.policy.backoff(message.receive_count, report.retry_after, self._rng)

    def _back_off(self, report: DeliveryReport, messages: dict[str, InboundMessage], deadline: float | None) -> None:
        """Hide each retried message for its backoff (ten per ChangeMessageVisibilityBatch). Without
        the time (or the queue) to do it, a message simply comes back after the queue's visibility
        timeout: sooner than planned, never lost."""
        backoffs = [(messages[m].receipt, report.backoff[m]) for m in sorted(report.retry)
                    if m in messages and messages[m].receipt and m in report.backoff]
        if self.delivery_queue is None or not backoffs or not self._in_time(deadline):
            return
        try:
            self.delivery_queue.change_visibilities(backoffs)
        except Exception as error:
            logger.warning("could not back off %d messages (%s): they return after the visibility timeout", len(backoffs), error.__class__.__name__)


def _log_failure(what: str, message_id: str, error: BaseException) -> None:
    """An unforeseen failure, logged with the message id, where it happened and a scrubbed text:
    the exception's own text may quote the payload, so it goes through ``redact``."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    logger.error("message %s %s: %s%s", message_id, what, redact(f"{error.__class__.__name__}: {error}"), where)


def _queued_at(message: InboundMessage, envelope: Envelope) -> datetime:
    """Where the retry horizon starts: when the webhook was first queued (kept by a remainder, so
    putting the unsent events back does not restart it); SQS's SentTimestamp for older envelopes."""
    if envelope.queued_at is not None:
        return envelope.queued_at
    return datetime.fromtimestamp(message.sent_at, UTC) if message.sent_at else envelope.received_at


def _ids(ids: set[Any], envelope: Envelope) -> list[str]:
    """Message ids to exclude from a re-translation: these, and what the envelope excluded already."""
    return sorted({i for i in ids if isinstance(i, str)} | set(envelope.exclude_ids or ()))


# ---- the Lambda-facing side ---------------------------------------------------------------------


class DeliverApp:
    """Delivers one SQS batch and reports partial failures (``ReportBatchItemFailures``)."""

    def __init__(self, deliverer: Deliverer) -> None:
        self.deliverer = deliverer
        # A batch that failed whole is reported like any partial failure, not raised as an error.
        self.processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @classmethod
    def from_environment(cls, settings: Settings | None = None) -> DeliverApp:
        from .customerio import CustomerIO
        from .queue import SqsQueue

        settings = settings or Settings()
        client = CustomerIO.from_settings(settings)
        claim_check = ClaimCheck.from_settings(settings)
        dead = SqsQueue(settings.require("DEAD_LETTER_QUEUE_URL"), claim_check=claim_check, budget=budgets.SQS_DELIVER)
        delivery = SqsQueue(settings.require("DELIVERY_QUEUE_URL"), claim_check=claim_check, budget=budgets.SQS_DELIVER)
        return cls(Deliverer(client, dead, settings, delivery_queue=delivery, claim_check=claim_check))

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event.get("Records", [])
        deadline = None
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - budgets.DELIVER_SETTLE_SECONDS
        messages = [_inbound(r) for r in records]
        report = self.deliverer.deliver(messages, deadline)
        logger.info(
            "batch delivered",
            extra={"messages": len(records), "delivered": report.delivered, "dead_lettered": report.dead_lettered, "retry": len(report.retry),
                   "requeued": report.requeued, "requests": report.requests, "oldest_age_seconds": round(report.oldest_age_seconds)},
        )
        if in_lambda():
            for name, value, unit in (("Delivered", report.delivered, MetricUnit.Count), ("DeadLettered", report.dead_lettered, MetricUnit.Count),
                                      ("MessagesRetried", len(report.retry), MetricUnit.Count), ("CustomerIoRequests", report.requests, MetricUnit.Count),
                                      ("OldestMessageAge", report.oldest_age_seconds, MetricUnit.Seconds)):
                metrics.add_metric(name=name, unit=unit, value=value)

        def record_handler(record: SQSRecord) -> None:
            if record.message_id in report.retry:
                raise DeliveryIncomplete(f"message {record.message_id} has events still to deliver")

        return process_partial_response(event=event, record_handler=record_handler, processor=self.processor, context=context)


def _inbound(record: dict[str, Any]) -> InboundMessage:
    attributes = record.get("attributes") or {}
    sent = attributes.get("SentTimestamp")
    return InboundMessage(record["messageId"], record["body"], int(attributes.get("ApproximateReceiveCount", 1)),
                          record.get("receiptHandle"), int(sent) / 1000 if sent else None)


class DeliveryIncomplete(Exception):
    """Raised for a record whose events are not all delivered yet, so SQS redelivers it."""
