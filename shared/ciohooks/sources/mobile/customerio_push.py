"""Push metrics in Customer.io's own request shapes -> Customer.io ``Report Delivery Event``.

A backend (or app) that reports device-side push metrics to Customer.io's Track API can point
here instead, unchanged: this route reads the bodies of

- ``POST /push/events`` (deprecated, still documented): ``{delivery_id, event, device_id,
  timestamp}``, ``event`` one of ``opened | converted | delivered``;
- ``POST /api/v1/metrics`` (the "universal" metrics endpoint): ``{delivery_id, metric, timestamp?,
  recipient?, reason?, href?}``; for push, ``metric`` is ``converted | delivered | opened`` and
  ``recipient`` "the device ID that the message was sent to"; other channels add ``clicked``,
  ``bounced``, ``deferred``, ``dropped`` and ``spammed``;
- an already-semantic ``Report Delivery Event`` body: ``{"type": "track", "event": "Report Delivery
  Event", ...}``, or the same without ``type``, as Customer.io's iOS SDK posts it from its
  notification service extension (customerio-ios ``RichPushHttpClient.trackMetric``: ``{"anonymousId":
  <delivery id>, "event": "Report Delivery Event", "properties": {"recipient", "metric",
  "deliveryId"}}``);
- the push payload an app receives, forwarded as it arrived: the keys Customer.io adds to every
  push, ``CIO-Delivery-ID`` and ``CIO-Delivery-Token`` (beside ``aps``/``CIO`` on iOS, in the data
  message on Android; also read under ``data``), with an optional ``metric``.

Sources: Customer.io Track API, "Report push metrics" and "Report metrics"
(https://docs.customer.io/integrations/api/track/tag/track-events/pushmetrics/ and
.../track-events/metrics/; the published spec https://docs.customer.io/files/journeys-track.json,
copied verbatim in api-evangelist/customer-io openapi/_original/customer-io-track-api-openapi.json).
Reporting webhooks: https://docs.customer.io/api/webhooks/ (spec copied in the same repository,
openapi/_original/customer-io-reporting-webhooks-openapi.json).

Mapping (-> ``Report Delivery Event``, properties.deliveryId <- the delivery id): ``MAPPED`` and
``IGNORED`` below, keyed by shape and metric; docs/sources/customerio-push.md shows the table,
checked against both. A metric or event a shape does not document is unknown and kept; so is any
other semantic event posted here.

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
  only pile up. A metric Customer.io does not document is unknown (``metric:<name>``) and kept.
- The push payload: an app that forwards the payload it received proves the push was delivered,
  which is when Customer.io's SDKs report ``delivered``; so that is the metric unless the body
  names another one in ``metric`` (e.g. ``opened`` when forwarded on a tap). ``recipient`` is the
  ``CIO-Delivery-Token``. The rest of the payload (title, body, link, image) is not copied.
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
  leaving this service carries a deterministic one. Segment transport fields a library adds
  (``sentAt``, ``receivedAt``, ``originalTimestamp``, ``_metadata``, ``writeKey``, ``channel``,
  ``version``) are not part of the event and are left out. Other semantic events are unknown
  (``track:<name>``) and kept: this route reports deliveries, nothing else.
- ``messageId``: these bodies carry no event id, so it is the UUIDv5 of the canonical body (for a
  push payload, of the report it becomes: delivery id, metric and token, so the iOS and Android
  forms of one report agree). The same report sent twice is one event downstream, which is what a
  retry is.
- ``timestamp`` is the body's unix ``timestamp`` when sent; otherwise none (Customer.io then uses
  the time it received the event).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, ClassVar, Mapping

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
DELIVERY_ID_KEY, DELIVERY_TOKEN_KEY = "CIO-Delivery-ID", "CIO-Delivery-Token"
SEMANTIC = ReportDeliveryEvent.name
PUSH_PAYLOAD = "push payload"
# Segment library transport fields: not part of an event (see the docstring, "Pass-through").
TRANSPORT_FIELDS = ("type", "event", "sentAt", "receivedAt", "originalTimestamp", "_metadata", "writeKey", "channel", "version")

# shape:metric -> Customer.io event; what is counted instead, with the reason.
MAPPED: dict[str, str] = {
    **{f"event:{event}": SEMANTIC for event in sorted(PUSH_EVENTS)},
    **{f"metric:{metric}": SEMANTIC for metric in sorted(REPORTED_METRICS)},
    SEMANTIC: SEMANTIC,
    **{f"{PUSH_PAYLOAD}:{metric}": SEMANTIC for metric in sorted(REPORTED_METRICS)},
}
IGNORED: dict[str, str] = {
    **{f"metric:{metric}": "a Customer.io metric Report Delivery Event cannot carry (its metric is delivered, clicked, converted or opened)" for metric in sorted(UNREPORTABLE_METRICS)},
    "loop:reporting_webhook": "Customer.io's own reporting webhook: sending it back would report Customer.io's metrics to itself",
}


class CustomerioPush(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "customerio-push"
    docs_url: ClassVar[str] = "https://docs.customer.io/integrations/api/track/tag/track-events/metrics/"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = MAPPED
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
        kind, build = self._classify(body)
        if build is None:
            (translation.ignored if kind in IGNORED else translation.unknown)[kind[:64]] += 1
            if kind == "loop:reporting_webhook":
                log.warning("a Customer.io reporting webhook body reached %s without its headers; dropped (loop)", self.full_name())
        else:
            with translation.item(kind):
                translation.events.append(build())
        return translation

    def _classify(self, body: dict[str, Any]) -> tuple[str, Callable[[], ReportDeliveryEvent] | None]:
        """The body's shape and metric (the event table's key) and how to build its event, if any."""
        if "type" in body or body.get("event") == SEMANTIC:  # a semantic call, typed or as the iOS SDK posts it
            if body.get("type", "track") != "track" or body.get("event") != SEMANTIC:
                return f"{body.get('type')}:{str(body.get('event'))[:48]}", None
            return SEMANTIC, lambda: self._pass_through(body)
        if is_reporting_webhook_body(body):
            return "loop:reporting_webhook", None
        if (payload := push_payload(body)) is not None:
            metric = body.get("metric", "delivered")
            kind = f"{PUSH_PAYLOAD}:{str(metric)[:32]}"
            return kind, (lambda: self._report(payload, metric, payload.get(DELIVERY_ID_KEY), recipient=payload.get(DELIVERY_TOKEN_KEY))) if kind in MAPPED else None
        if "metric" in body:
            kind = f"metric:{str(body['metric'])[:32]}"
            return kind, (lambda: self._metric(body)) if kind in MAPPED else None
        if "event" in body:
            kind = f"event:{str(body['event'])[:32]}"
            return kind, (lambda: self._report(body, body["event"], body.get("delivery_id"), recipient=body.get("device_id"))) if kind in MAPPED else None
        raise InvalidPayload("body is none of /push/events, /v1/metrics, a Report Delivery Event or a push payload")

    def _metric(self, body: dict[str, Any]) -> ReportDeliveryEvent:
        recipient = body.get("recipient")
        if isinstance(recipient, int) and not isinstance(recipient, bool):
            recipient = str(recipient)  # the SMS variant documents an integer phone number
        return self._report(body, body["metric"], body.get("delivery_id"), recipient=recipient, reason=body.get("reason"), href=body.get("href"))

    def _report(self, body: dict[str, Any], metric: str, delivery_id: Any, **optional: Any) -> ReportDeliveryEvent:
        if not isinstance(delivery_id, str) or not delivery_id:
            raise InvalidPayload("no delivery id")
        timestamp = optional_timestamp(body.get("timestamp"), "timestamp")
        properties = {"deliveryId": delivery_id, "metric": metric, **{key: value for key, value in optional.items() if value is not None}}
        # A push payload's other keys (title, body, image...) are no part of the report: its id follows the report.
        content = properties if DELIVERY_ID_KEY in body else body
        try:
            return ReportDeliveryEvent.model_validate({
                "messageId": ids.message_id_of_content(self.full_name(), content),
                "timestamp": timestamp,
                "properties": properties,
            })
        except ValidationError as error:
            raise InvalidPayload(f"invalid {', '.join(sorted({str(e['loc'][-1]) for e in error.errors()}))}") from None

    def _pass_through(self, body: dict[str, Any]) -> ReportDeliveryEvent:
        fields = {key: value for key, value in body.items() if key not in TRANSPORT_FIELDS}
        fields.setdefault("messageId", ids.message_id_of_content(self.full_name(), body))
        return ReportDeliveryEvent.model_validate(fields)


def push_payload(body: dict[str, Any]) -> dict[str, Any] | None:
    """The keys Customer.io adds to a push (``CIO-Delivery-ID``...), at the top or under ``data``."""
    for candidate in (body, body.get("data")):
        if isinstance(candidate, dict) and DELIVERY_ID_KEY in candidate:
            return candidate
    return None


def presented_tokens(authorization: str | None) -> list[str]:
    """The secrets an ``Authorization`` header presents: a bearer token, or Basic password / user."""
    if (token := credentials.bearer(authorization)) is not None:
        return [token]
    if (pair := credentials.basic(authorization)) is not None:
        user, _, password = pair.partition(":")
        return [password or user]
    return []


SOURCE = CustomerioPush
