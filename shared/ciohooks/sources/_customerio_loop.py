"""The loop guard: Customer.io's own webhooks must never be turned back into Customer.io events.

A reporting webhook (or a campaign webhook action) pointed at cio-hooks by mistake would report
Customer.io's metrics back to itself. Such requests are recognised before authentication (they
carry Customer.io's ``x-cio-signature`` / ``x-cio-timestamp`` headers, or a reporting-webhook body:
``event_id``, ``object_type``, ``metric``), logged as a misconfiguration, and answered **200** with
nothing queued: Customer.io retries any other answer for seven days and holds back that webhook's
later calls meanwhile. The log line (and the ``Replied`` metric) is how the operator finds out.
"""

from __future__ import annotations

import json
import logging

from ..request import WebhookRequest, loads_json
from .base import Reply

log = logging.getLogger(__name__)

CUSTOMERIO_WEBHOOK_HEADERS = ("x-cio-signature", "x-cio-timestamp")
REPORTING_WEBHOOK_KEYS = ("event_id", "object_type", "metric")


def is_reporting_webhook_body(body: object) -> bool:
    items = body if isinstance(body, list) else [body]
    return bool(items) and all(isinstance(item, dict) and all(key in item for key in REPORTING_WEBHOOK_KEYS) for item in items)


def customerio_webhook(request: WebhookRequest) -> str | None:
    """Why ``request`` looks like Customer.io's own webhook, else None."""
    if any(request.header(name) for name in CUSTOMERIO_WEBHOOK_HEADERS):
        return "it carries Customer.io's x-cio-signature / x-cio-timestamp headers"
    try:
        body = loads_json(request.body)
    except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError, JSONDecodeError are ValueErrors)
        return None
    if is_reporting_webhook_body(body):
        return "its body has the shape of a Customer.io reporting webhook (event_id, object_type, metric)"
    return None


def refuse_loop(request: WebhookRequest, source: str) -> Reply | None:
    """The answer to a Customer.io webhook posted to ``source``, or None for any other request."""
    reason = customerio_webhook(request)
    if reason is None:
        return None
    log.warning("a Customer.io webhook was posted to %s and dropped (loop guard: %s); point it elsewhere", source, reason)
    body = {"accepted": 0, "ignored": 1, "reason": f"Customer.io's own webhooks are not taken here: {reason}"}
    return Reply(200, json.dumps(body), "application/json")
