"""Deliver: from DeliveryQueue messages to Customer.io, with failures isolated to what caused them.

All events of one SQS batch are packed together (≥100 events per Customer.io request under load).
Per message (record) the outcome is one of:

- delivered: every event was accepted (or refused by Customer.io and dead-lettered with its reason);
- retry: some events could not be sent now (429/5xx/timeout/no time left). The record is reported
  as a batch item failure; SQS redelivers it, and after ``maxReceiveCount`` moves it to the DLQ.
  Its already delivered events are sent again with the same ``messageId`` (idempotent downstream).

A raw-request message (too big for events at ingest, or a replayed dead letter) is translated here
with today's code, so a mapping fix heals old failures.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, Sequence

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from . import sources
from .config import Settings
from .customerio import Rejected, SendResult
from .envelope import Envelope
from .handlers import in_lambda
from .ingest import UntranslatableError, settle, translate
from .queue import MessageTooLarge, Queue, QueueUnavailable
from .redact import describe_validation_error
from .request import WebhookRequest

logger = logging.getLogger(__name__)
metrics = Metrics()  # shares its metric set with the function module's Metrics(), which flushes it


class Sink(Protocol):
    def send(self, events: Sequence[dict[str, Any]], deadline: float | None = None) -> SendResult: ...


@dataclass(frozen=True)
class InboundMessage:
    message_id: str
    body: str
    receive_count: int = 1


@dataclass
class DeliveryReport:
    retry: set[str] = field(default_factory=set)  # message ids to report as batch item failures
    delivered: int = 0
    dead_lettered: int = 0
    requests: int = 0


class Deliverer:
    def __init__(self, sink: Sink, dead_letter_queue: Queue, settings: Settings | None = None) -> None:
        self.sink, self.dead_letter_queue = sink, dead_letter_queue
        self.settings = settings or Settings()
        self._sources: dict[str, sources.Source] = {}

    def deliver(self, messages: Iterable[InboundMessage], deadline: float | None = None) -> DeliveryReport:
        report = DeliveryReport()
        owner: list[tuple[str, dict[str, Any]]] = []  # (message id, event), in order
        envelopes: dict[str, tuple[Envelope, InboundMessage]] = {}
        kept: dict[str, Envelope] = {}  # message id -> what of its request did not translate
        for message in messages:
            try:
                envelope = Envelope.from_json(message.body)
            except ValidationError as error:
                # Not ours or corrupted: leave it to the redrive policy, which keeps it whole.
                logger.error("message %s is not a cio-hooks envelope: %s", message.message_id, describe_validation_error(error))
                report.retry.add(message.message_id)
                continue
            envelopes[message.message_id] = (envelope, message)
            events = self._events_of(envelope, message, report, kept)
            owner.extend((message.message_id, event) for event in events or ())

        if owner:
            result = self.sink.send([event for _, event in owner], deadline)
            report.requests += result.requests
            self._settle(owner, result, envelopes, report)
        # Kept only once the message is done: a retried message translates again next time, so the
        # part that does not translate reaches the DLQ once, not on every receive.
        for message_id, dead in kept.items():
            if message_id not in report.retry:
                self._dead_letter(dead, envelopes[message_id][1], report)
        return report

    def _events_of(self, envelope: Envelope, message: InboundMessage, report: DeliveryReport, kept: dict[str, Envelope]) -> list[dict[str, Any]] | None:
        if envelope.kind == "events":
            return envelope.events or []
        try:
            source = self._source(envelope.source)
            translation = translate(source, WebhookRequest.from_dict(envelope.request or {}))
        except UntranslatableError as error:
            self._dead_letter(envelope.failed("translate", error.reason, message.receive_count), message, report)
            return None
        except KeyError as error:
            self._dead_letter(envelope.failed("translate", f"unknown source: {error}", message.receive_count), message, report)
            return None
        # What was already sent from this request is left out; what still does not translate is kept.
        settled = settle(translation, envelope.source, envelope.received_at, envelope.request or {}, envelope.exclude_ids or ())
        if settled.kept is not None:
            kept[message.message_id] = settled.kept
        return settled.events

    def _source(self, full_name: str) -> sources.Source:
        if full_name not in self._sources:
            self._sources[full_name] = sources.load(full_name)(self.settings)
        return self._sources[full_name]

    def _settle(self, owner: list[tuple[str, dict[str, Any]]], result: SendResult, envelopes: dict[str, tuple[Envelope, InboundMessage]], report: DeliveryReport) -> None:
        message_of = {id(event): message_id for message_id, event in owner}
        report.delivered += len(result.delivered)
        for event in result.unsent:
            report.retry.add(message_of[id(event)])
        rejected_by_message: dict[str, list[Rejected]] = defaultdict(list)
        for rejection in result.rejected:
            rejected_by_message[message_of[id(rejection.event)]].append(rejection)
        for message_id, rejections in rejected_by_message.items():
            envelope, message = envelopes[message_id]
            reasons = "; ".join(sorted({r.reason for r in rejections}))
            dead = Envelope(kind="events", source=envelope.source, received_at=envelope.received_at, events=[r.event for r in rejections])
            self._dead_letter(dead.failed("deliver", reasons, message.receive_count), message, report)
        if result.unsent:
            logger.warning("%d events not delivered yet (%s); their messages will be retried", len(result.unsent), result.last_error)

    def _dead_letter(self, envelope: Envelope, message: InboundMessage, report: DeliveryReport) -> None:
        try:
            self.dead_letter_queue.put(envelope)
        except (QueueUnavailable, MessageTooLarge) as error:
            logger.error("could not dead-letter from message %s: %s", message.message_id, error)
            report.retry.add(message.message_id)
            return
        report.dead_lettered += len(envelope.events or []) or 1
        logger.warning("dead-lettered from message %s at stage %s: %s", message.message_id, envelope.failure.stage if envelope.failure else "?", envelope.failure.error if envelope.failure else "")


# ---- the Lambda-facing side ---------------------------------------------------------------------

# Leave this much of the invocation's time for reporting the batch result and dead-lettering.
DELIVER_SAFETY_SECONDS = 3.0


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
        return cls(Deliverer(client, SqsQueue(settings.require("DEAD_LETTER_QUEUE_URL")), settings))

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event.get("Records", [])
        deadline = None
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - DELIVER_SAFETY_SECONDS
        messages = [
            InboundMessage(r["messageId"], r["body"], int((r.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
            for r in records
        ]
        report = self.deliverer.deliver(messages, deadline)
        logger.info(
            "batch delivered",
            extra={"messages": len(records), "delivered": report.delivered, "dead_lettered": report.dead_lettered, "retry": len(report.retry), "requests": report.requests},
        )
        if in_lambda():
            for name, value in (("Delivered", report.delivered), ("DeadLettered", report.dead_lettered), ("MessagesRetried", len(report.retry)), ("CustomerIoRequests", report.requests)):
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

        def record_handler(record: SQSRecord) -> None:
            if record.message_id in report.retry:
                raise DeliveryIncomplete(f"message {record.message_id} has events still to deliver")

        return process_partial_response(event=event, record_handler=record_handler, processor=self.processor, context=context)


class DeliveryIncomplete(Exception):
    """Raised for a record whose events are not all delivered yet, so SQS redelivers it."""
