"""Push metrics in Customer.io's own request shapes -> Customer.io ``Report Delivery Event``.

A backend (or app) that reports device-side push metrics to Customer.io's Track API can point
here instead, unchanged: this route reads the bodies of

- ``POST /push/events`` (deprecated, still documented): ``{delivery_id, event, device_id,
  timestamp}``, ``event`` one of ``opened | converted | delivered``;
- ``POST /api/v1/metrics`` (the "universal" metrics endpoint): ``{delivery_id, metric, timestamp?,
  recipient?, reason?, href?}``; for push, ``metric`` is ``converted | delivered | opened`` and
  ``recipient`` "the device ID that the message was sent to"; other channels add ``clicked``,
  ``bounced``, ``deferred``, ``dropped`` and ``spammed``;
- an already-semantic ``{"type": "track", "event": "Report Delivery Event", ...}`` body.

Sources: Customer.io Track API, "Report push metrics" and "Report metrics"
(https://docs.customer.io/integrations/api/track/tag/track-events/pushmetrics/ and
.../track-events/metrics/; the published spec https://docs.customer.io/files/journeys-track.json,
copied verbatim in api-evangelist/customer-io openapi/_original/customer-io-track-api-openapi.json).
Reporting webhooks: https://docs.customer.io/api/webhooks/ (spec copied in the same repository,
openapi/_original/customer-io-reporting-webhooks-openapi.json).

Mapping (-> ``Report Delivery Event``; properties.deliveryId <- delivery_id):

    /push/events  event opened|converted|delivered   -> metric = event, recipient <- device_id
    /v1/metrics   metric delivered|clicked|converted|opened
                                                     -> metric, recipient, reason, href as sent
    /v1/metrics   metric bounced|deferred|dropped|spammed
                                                     -> not translated, counted (``metric:<name>``)
    {"type": "track", "event": "Report Delivery Event", ...}
                                                     -> passed through as sent (validated)
    a Customer.io *reporting webhook* (loop)         -> 200, nothing queued (see below)

Decisions:

- Authentication: ``CUSTOMERIO_PUSH_TOKEN``, presented as ``Authorization: Bearer <token>`` or as
  HTTP Basic with the token as the password (what a Track API client configured with
  ``site_id:api_key`` sends when the api key is set to the token) or as the user with an empty
  password (the Pipelines API convention). Compared in constant time; the header is never stored.
  Customer.io's own endpoints ask no credentials for these two calls, but an open endpoint here
  would let anyone write metrics into the workspace.
- ``bounced``, ``deferred``, ``dropped`` and ``spammed`` are valid Customer.io metrics that the
  ``Report Delivery Event`` spec cannot carry (its metric is one of delivered, clicked, converted,
  opened). They are counted, not failed: no mapping fix could ever send them, so a DLQ entry would
  only pile up. A metric Customer.io does not document at all fails the request
  (``InvalidPayload``): that body is not one of these shapes.
- The recipient is passed on as sent (for push it is the device token: personal data, fine in the
  event, never in logs or error texts). The SMS variant documents ``recipient`` as an integer (a
  phone number); it is sent as its decimal string.
- Loops: Customer.io's reporting webhooks (``{event_id, object_type, metric, timestamp, data}``
  with ``x-cio-signature`` and ``x-cio-timestamp`` headers) are what Customer.io says about its
  own deliveries. Feeding them back would report Customer.io's metrics to itself. Customer.io
  retries any non-2xx answer for seven days and holds back every later webhook meanwhile (its
  docs list 400, 401, 403, 404, 410 ... among the retried codes), so a 4xx would jam the reporting
  webhook. A request with those headers is therefore answered 200 before authentication (it has no
  credentials to check, and nothing is queued) and logged as a misconfiguration. An authenticated
  body of that shape without the headers is counted as ``loop:reporting_webhook``.
- Pass-through: a semantic body is validated by the ``ReportDeliveryEvent`` model and sent as the
  model serialises it (fields and values unchanged; a ``timestamp`` comes out in ISO-8601 UTC).
  Only a missing ``messageId`` is added (the UUIDv5 of the canonical body), because every event
  leaving this service carries a deterministic one. Other semantic events are refused
  (``InvalidPayload``): this route reports deliveries, nothing else.
- ``messageId``: these bodies carry no event id, so it is the UUIDv5 of the canonical body. The
  same report sent twice is one event downstream, which is what a retry is.
- ``timestamp`` is the body's unix ``timestamp`` when sent; otherwise none (Customer.io then uses
  the time it received the event).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from pydantic import ValidationError

from ... import ids
from ...request import WebhookRequest
from ...semantic.actions import ReportDeliveryEvent
from .. import _credentials as credentials
from .._customerio_loop import CUSTOMERIO_WEBHOOK_HEADERS, is_reporting_webhook_body, refuse_loop
from .._translation import load_json, optional_timestamp
from ..base import InvalidPayload, Reply, Source, Translation, Unauthorized

log = logging.getLogger(__name__)

SECRET = "CUSTOMERIO_PUSH_TOKEN"
PUSH_EVENTS = frozenset({"opened", "converted", "delivered"})  # /push/events "event"
REPORTED_METRICS = frozenset({"delivered", "clicked", "converted", "opened"})  # Report Delivery Event's enum
UNREPORTABLE_METRICS = frozenset({"bounced", "deferred", "dropped", "spammed"})  # documented, no semantic metric


class CustomerioPush(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "customerio-push"
    docs_url: ClassVar[str] = "https://docs.customer.io/integrations/api/track/tag/track-events/metrics/"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[dict[str, str]] = {
        "loop:reporting_webhook": "Customer.io's own reporting webhook: sending it back would loop",
        **{f"metric:{metric}": "an email-channel metric: no push Report Delivery Event for it" for metric in UNREPORTABLE_METRICS},
    }
    secret_headers: ClassVar[frozenset[str]] = frozenset({"authorization"})

    def reply_before_auth(self, request: WebhookRequest) -> Reply | None:
        # Headers only here: a reporting-webhook body is also caught in translate, after
        # authentication, because this route legitimately takes metric bodies.
        if any(request.header(name) for name in CUSTOMERIO_WEBHOOK_HEADERS):
            return refuse_loop(request, self.full_name())
        return None

    def authenticate(self, request: WebhookRequest) -> None:
        if (expected := self.secret_or_open(SECRET)) is not None:
            if not any(credentials.matches(candidate, expected) for candidate in presented_tokens(request.header("authorization"))):
                raise Unauthorized("no matching bearer token or Basic credentials")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return credentials.with_header(request, "authorization", credentials.bearer_header(key))

    def translate(self, request: WebhookRequest) -> Translation:
        body = load_json(request.body)
        if not isinstance(body, dict):
            raise InvalidPayload(f"body is a JSON {type(body).__name__}, not an object")
        translation = Translation()
        if "type" in body:  # neither Track API body has one; a semantic call always does
            translation.events.append(self._pass_through(body))
        elif is_reporting_webhook_body(body):
            log.warning("a Customer.io reporting webhook body reached %s without its headers; dropped (loop)", self.full_name())
            translation.ignored["loop:reporting_webhook"] += 1
        elif "metric" in body:
            metric = body["metric"]
            if metric in UNREPORTABLE_METRICS:
                translation.ignored[f"metric:{metric}"] += 1
            elif metric in REPORTED_METRICS:
                recipient = body.get("recipient")
                if isinstance(recipient, int) and not isinstance(recipient, bool):
                    recipient = str(recipient)  # the SMS variant documents an integer phone number
                translation.events.append(self._report(body, metric, recipient=recipient, reason=body.get("reason"), href=body.get("href")))
            else:
                raise InvalidPayload("metric is not one Customer.io's metrics endpoint documents")
        elif "event" in body:
            if body["event"] not in PUSH_EVENTS:
                raise InvalidPayload("event is not opened, converted or delivered (the /push/events values)")
            translation.events.append(self._report(body, body["event"], recipient=body.get("device_id")))
        else:
            raise InvalidPayload("body is none of /push/events, /v1/metrics or a Report Delivery Event")
        return translation

    def _report(self, body: dict[str, Any], metric: str, **optional: Any) -> ReportDeliveryEvent:
        delivery_id = body.get("delivery_id")
        if not isinstance(delivery_id, str) or not delivery_id:
            raise InvalidPayload("no delivery_id")
        timestamp = optional_timestamp(body.get("timestamp"), "timestamp")
        sent = {key: value for key, value in optional.items() if value is not None}
        try:
            return ReportDeliveryEvent.model_validate({
                "messageId": ids.message_id_of_content(self.full_name(), body),
                "timestamp": timestamp,
                "properties": {"deliveryId": delivery_id, "metric": metric, **sent},
            })
        except ValidationError as error:
            raise InvalidPayload(f"invalid {', '.join(sorted({str(e['loc'][-1]) for e in error.errors()}))}") from None

    def _pass_through(self, body: dict[str, Any]) -> ReportDeliveryEvent:
        if body.get("type") != "track" or body.get("event") != ReportDeliveryEvent.name:
            raise InvalidPayload("only Report Delivery Event track calls pass through this route")
        fields = {key: value for key, value in body.items() if key not in ("type", "event")}
        fields.setdefault("messageId", ids.message_id_of_content(self.full_name(), body))
        return ReportDeliveryEvent.model_validate(fields)


def presented_tokens(authorization: str | None) -> list[str]:
    """The secrets an ``Authorization`` header presents: a bearer token, or Basic password / user."""
    if (token := credentials.bearer(authorization)) is not None:
        return [token]
    if (pair := credentials.basic(authorization)) is not None:
        user, _, password = pair.partition(":")
        return [password or user]
    return []


SOURCE = CustomerioPush
