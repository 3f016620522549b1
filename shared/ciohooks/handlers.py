"""The Lambda-facing side of ingest: a Powertools Function URL resolver, one route per source, and
the entry for events an AWS service hands the function itself (EventBridge: SES events, no URL).

``functions/ingest/app.py`` only builds it at module level and hands it the event, so the local
server runs the very same object with in-process queues. (Delivery's side is ``deliver.DeliverApp``;
it is kept out of this module so an ingest cold start never imports the HTTP client or the batch
utilities.)
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from .config import Settings, in_lambda
from .ingest import Ingest, Outcome
from .request import EVENTBRIDGE, MalformedEvent, WebhookRequest

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
        record_ingest_metrics(outcome)
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


def record_ingest_metrics(outcome: Outcome) -> None:
    # Metrics are flushed by the function module's ``log_metrics`` after each invocation; outside
    # Lambda (serve, the CLI, tests) nothing would flush them, so they are not recorded there.
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


# EventBridge ``source`` -> the route of the source that reads its events (``Source.transport``).
EVENTBRIDGE_ROUTES = {"aws.ses": "ses-eventbridge"}


class StorageFailed(RuntimeError):
    """Ingest could not store an EventBridge event now: raised so that Lambda's asynchronous
    invocation retries it (and, after its last retry, sends it to the on-failure destination)."""


def is_eventbridge_event(event: Any) -> bool:
    """An EventBridge event (a rule target's invocation), not a Function URL request."""
    return isinstance(event, dict) and "detail-type" in event and "source" in event and "requestContext" not in event


def handle_eventbridge_event(ingest: Ingest, event: dict[str, Any]) -> dict[str, Any]:
    """One EventBridge event through ingest, as a request of ``transport`` EVENTBRIDGE: the only
    way such a request is made (the route refuses the same body over HTTPS). Returns the outcome's
    summary (EventBridge ignores it); raises ``StorageFailed`` when the answer is a retry status."""
    route = EVENTBRIDGE_ROUTES.get(str(event.get("source")))
    if route is None:  # a rule someone pointed here by hand: retrying cannot help
        logger.error("EventBridge event from an unexpected source refused", extra={"detail_type": str(event.get("detail-type"))[:64]})
        return {"status": 404, "result": "not_found"}
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    request = WebhookRequest("POST", f"/{route}", body, {"content-type": "application/json"}, transport=EVENTBRIDGE)
    outcome = ingest.handle(route, request)
    logger.info(
        "eventbridge event handled",
        extra={"source": outcome.source or route, "result": outcome.result, "status": outcome.status, "events": outcome.events, "ignored": outcome.ignored, "unknown": outcome.unknown, "kept": outcome.kept},
    )
    record_ingest_metrics(outcome)
    if outcome.status >= 500:
        raise StorageFailed(f"{route}: answered {outcome.status} ({outcome.result}); Lambda retries the event")
    return {"status": outcome.status, "result": outcome.result}


def ingest_function(family: str, settings: Settings | None = None) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The ingest function's handler: Function URL requests to the resolver, EventBridge events to
    ``handle_eventbridge_event``; one ``Ingest`` (queues, sources) for both."""
    ingest = Ingest.from_environment(family, settings)
    app = ingest_resolver(ingest)

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if is_eventbridge_event(event):
            return handle_eventbridge_event(ingest, event)
        return app.resolve(event, context)

    return handle
