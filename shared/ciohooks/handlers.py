"""The Lambda-facing side: a Powertools resolver for ingest, a batch processor for delivery.

``functions/<name>/app.py`` only builds one of these at module level and hands it the event, so
the local server can run the very same objects with in-process queues and a dry-run sink.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from .config import Settings
from .deliver import Deliverer, InboundMessage
from .ingest import Ingest, Outcome
from .queue import SqsQueue
from .request import MalformedEvent, WebhookRequest

logger = logging.getLogger(__name__)
# Shares its metric set with the function module's ``Metrics()``, whose ``log_metrics`` flushes it.
metrics = Metrics()

# Leave this much of the invocation's time for reporting the batch result and dead-lettering.
DELIVER_SAFETY_SECONDS = 3.0
WEBHOOK_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def ingest_resolver(ingest: Ingest) -> LambdaFunctionUrlResolver:
    """A Function URL resolver with one route per source: ``/<source>``."""
    app = LambdaFunctionUrlResolver()

    @app.route("/<source>", method=WEBHOOK_METHODS)
    def webhook(source: str) -> Response:
        try:
            request = WebhookRequest.from_function_url_event(app.current_event.raw_event)
        except MalformedEvent as error:
            return _response(Outcome(400, {"error": str(error)}, "rejected"))
        outcome = ingest.handle(source, request)
        logger.info(
            "webhook handled",
            extra={"source": outcome.source or source, "result": outcome.result, "status": outcome.status, "events": outcome.events, "ignored": outcome.ignored},
        )
        record_ingest_metrics(outcome, source)
        return _response(outcome)

    @app.not_found
    def not_found(_: Exception) -> Response:
        return _response(Outcome(404, {"error": "no such route; POST to /<source>"}, "not_found"))

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response:
        # Never let a bug look like success: 500 makes the provider retry, and the log says where.
        logger.exception("ingest failed unexpectedly (%s)", error.__class__.__name__)
        return _response(Outcome(500, {"error": "internal error, retry later"}, "failed"))

    return app


# One metric per ingest result (Rejected covers 401/404/405/413), plus event counts.
INGEST_RESULT_METRICS = {
    "queued": "Queued",
    "ignored": "Ignored",
    "dead_lettered": "DeadLettered",
    "rejected": "Rejected",
    "failed": "Failed",
    "replied": "Replied",
    "not_found": "Rejected",
}


def record_ingest_metrics(outcome: Outcome, route: str) -> None:
    metrics.add_dimension(name="source", value=outcome.source or f"unknown/{route}"[:64])
    metrics.add_metric(name="Received", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=INGEST_RESULT_METRICS[outcome.result], unit=MetricUnit.Count, value=1)
    if outcome.status == 401:
        metrics.add_metric(name="Unauthorized", unit=MetricUnit.Count, value=1)
    if outcome.events:
        metrics.add_metric(name="EventsQueued", unit=MetricUnit.Count, value=outcome.events)
    if outcome.ignored:
        metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=outcome.ignored)


def _response(outcome: Outcome) -> Response:
    return Response(status_code=outcome.status, content_type=outcome.content_type, body=outcome.response_body())


def ingest_app_from_environment(family: str, settings: Settings | None = None) -> LambdaFunctionUrlResolver:
    return ingest_resolver(Ingest.from_environment(family, settings))


class DeliverApp:
    """Delivers one SQS batch and reports partial failures (``ReportBatchItemFailures``)."""

    def __init__(self, deliverer: Deliverer) -> None:
        self.deliverer = deliverer
        # A batch that failed whole is reported like any partial failure, not raised as an error.
        self.processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    @classmethod
    def from_environment(cls, settings: Settings | None = None) -> DeliverApp:
        from .customerio import CustomerIO

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
        for name, value in (("Delivered", report.delivered), ("DeadLettered", report.dead_lettered), ("MessagesRetried", len(report.retry)), ("CustomerIoRequests", report.requests)):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

        def record_handler(record: SQSRecord) -> None:
            if record.message_id in report.retry:
                raise DeliveryIncomplete(f"message {record.message_id} has events still to deliver")

        return process_partial_response(event=event, record_handler=record_handler, processor=self.processor, context=context)


class DeliveryIncomplete(Exception):
    """Raised for a record whose events are not all delivered yet, so SQS redelivers it."""
