"""The Lambda-facing side of ingest: a Powertools Function URL resolver, one route per source.

``functions/ingest/app.py`` only builds it at module level and hands it the event, so the local
server runs the very same object with in-process queues. (Delivery's side is ``deliver.DeliverApp``;
it is kept out of this module so an ingest cold start never imports the HTTP client or the batch
utilities.)
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from .config import Settings
from .ingest import Ingest, Outcome
from .request import MalformedEvent, WebhookRequest

logger = logging.getLogger(__name__)
# Shares its metric set with the function module's ``Metrics()``, whose ``log_metrics`` flushes it.
metrics = Metrics()

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
            extra={"source": outcome.source or source, "result": outcome.result, "status": outcome.status, "events": outcome.events, "ignored": outcome.ignored, "unknown": outcome.unknown, "kept": outcome.kept},
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


def in_lambda() -> bool:
    """Metrics are flushed by the function module's ``log_metrics`` after each invocation; outside
    Lambda (serve, the CLI, tests) nothing would flush them, so they are not recorded there."""
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def record_ingest_metrics(outcome: Outcome, route: str) -> None:
    if not in_lambda():
        return
    try:
        metrics.add_dimension(name="source", value=outcome.source or "unknown")
        metrics.add_metric(name="Received", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=INGEST_RESULT_METRICS[outcome.result], unit=MetricUnit.Count, value=1)
        if outcome.status == 401:
            metrics.add_metric(name="Unauthorized", unit=MetricUnit.Count, value=1)
        if outcome.events:
            metrics.add_metric(name="EventsQueued", unit=MetricUnit.Count, value=outcome.events)
        if outcome.ignored:
            metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=outcome.ignored)
        if outcome.unknown:  # kept in the DLQ; alarmed on: a provider added or renamed a type
            metrics.add_metric(name="UnknownEventTypes", unit=MetricUnit.Count, value=outcome.unknown)
        if outcome.kept and outcome.result != "dead_lettered":  # events queued, the rest kept
            metrics.add_metric(name="DeadLettered", unit=MetricUnit.Count, value=1)
    except Exception:  # a metric must never cost a webhook its acknowledgement
        logger.warning("could not record metrics", exc_info=True)


def _response(outcome: Outcome) -> Response:
    return Response(status_code=outcome.status, content_type=outcome.content_type, body=outcome.response_body())


def ingest_app_from_environment(family: str, settings: Settings | None = None) -> LambdaFunctionUrlResolver:
    return ingest_resolver(Ingest.from_environment(family, settings))
