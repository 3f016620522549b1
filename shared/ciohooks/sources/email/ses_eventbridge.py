"""Amazon SES email events through Amazon EventBridge -> Customer.io email semantic events. No URL.

SES event publishing can send a configuration set's events to the account's default EventBridge
bus (an ``EventBridgeDestination``); the stack's optional rule (template.yaml, parameter
``SesEventBridge``) matches ``source: aws.ses`` and the email detail-types, and invokes the email
ingest function with each event. Nothing is exposed to the internet: there is no subscription to
confirm, no certificate to fetch and no secret to rotate.

- SES events on EventBridge (the detail-types, the envelope): https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html
  and https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ses.html
- The event destination: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-ses-configurationseteventdestination-eventbridgedestination.html
  ("Only the default bus is supported")
- The ``detail`` is the SES event record that SNS would carry as its ``Message``: it is mapped by
  ``_ses_records.py``, the same code as ``POST /ses`` (one mapping, two transports; the mapping
  table and its decisions are there, the guide is docs/sources/ses-eventbridge.md).

Detail-types (``detail-type`` -> the record's ``eventType``): Email Sent -> Send, Email Delivered ->
Delivery, Email Bounced -> Bounce, Email Complaint Received -> Complaint, Email Rejected -> Reject,
Email Opened -> Open, Email Clicked -> Click, Email Rendering Failed -> Rendering Failure, Email
Delivery Delayed -> DeliveryDelay, Email Subscribed -> Subscription. An email detail-type is
translated by its record's ``eventType``; SES's other events on the bus (Virtual Deliverability
Manager advisor, sending status) are ignored with their reason; any other detail-type is unknown
and kept.

Authentication (IAM, not a signature):

- The request must have come from the EventBridge entry of the ingest function
  (``handlers.ingest_function``), which builds it from the Lambda invocation event:
  ``WebhookRequest.transport == "eventbridge"``. Only principals the function's resource policy
  allows can invoke it, and the template grants ``events.amazonaws.com`` that right for this one
  rule (``SourceArn``). A request that arrived over HTTPS (a Function URL, ``make run``) is refused
  (401) whatever it carries: this route has no public URL.
- The event's ``source`` must be ``aws.ses`` (EventBridge sets it; a PutEvents caller cannot use an
  ``aws.`` source) and its ``account`` one of ``SES_EVENTBRIDGE_ACCOUNTS`` (required; the template
  sets the stack's own account when the parameter is on). Without it every event is refused
  (NotConfigured, 503 -> Lambda retries).
- No replay store: only AWS can deliver to this path, and a retried event keeps its ``id``, so its
  messageIds (UUIDv5 of the event ``id`` and the recipient) repeat and Customer.io drops the copy.

Delivery (store first): EventBridge invokes the function asynchronously; Lambda keeps the event in
its own queue and retries (twice, up to 6 h; ``EventInvokeConfig``) until ingest has stored it in
the delivery queue (or the DLQ, when it cannot be translated: replayable like any request). When
storage fails the entry raises, so Lambda retries; after the last retry the event goes to the
on-failure queue (``SesEventBridgeFailedQueue``, alarmed). From the queue on, it is any other request.

Use one transport per configuration set: an event published both to SNS and to EventBridge arrives
twice with two different delivery ids.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, Mapping

from ...request import EVENTBRIDGE, WebhookRequest, loads_json
from .._translation import not_mapped
from ..base import InvalidPayload, NotConfigured, Source, Translation, Unauthorized
from ._ses_records import EVENTS, RECORD_IGNORED_TYPES, SesRecordMapping

__all__ = ["EMAIL_DETAIL_TYPES", "EVENTS", "SOURCE", "SesEventbridge"]

ACCOUNTS_SETTING = "SES_EVENTBRIDGE_ACCOUNTS"
EVENT_SOURCE = "aws.ses"
# SES's email detail-types and the record eventType each carries (the record is what is mapped).
EMAIL_DETAIL_TYPES: dict[str, str] = {
    "Email Sent": "Send",
    "Email Delivered": "Delivery",
    "Email Bounced": "Bounce",
    "Email Complaint Received": "Complaint",
    "Email Rejected": "Reject",
    "Email Opened": "Open",
    "Email Clicked": "Click",
    "Email Rendering Failed": "Rendering Failure",
    "Email Delivery Delayed": "DeliveryDelay",
    "Email Subscribed": "Subscription",
}
ABOUT_NO_MESSAGE = "SES account administration on the same bus, about no message (the stack's rule does not match it)"


class SesEventbridge(SesRecordMapping, Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "ses-eventbridge"
    docs_url: ClassVar[str] = "https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html"
    transport: ClassVar[str] = EVENTBRIDGE
    required_settings: ClassVar[tuple[str, ...]] = (ACCOUNTS_SETTING,)
    ignored_types: ClassVar[Mapping[str, str]] = {
        **RECORD_IGNORED_TYPES,
        "Advisor Recommendation Status Open": ABOUT_NO_MESSAGE,
        "Advisor Recommendation Status Resolved": ABOUT_NO_MESSAGE,
        "Sending Status Enabled": ABOUT_NO_MESSAGE,
        "Sending Status Disabled": ABOUT_NO_MESSAGE,
    }

    def __init__(self, settings=None) -> None:
        super().__init__(settings)
        self._read_mapping_settings()

    def authenticate(self, request: WebhookRequest) -> None:
        if request.transport != EVENTBRIDGE:
            raise Unauthorized("SES events come through EventBridge only: this route has no URL")
        accounts = self.settings.get_list(ACCOUNTS_SETTING)
        if not accounts:
            raise NotConfigured(f"{ACCOUNTS_SETTING} is not configured, so every EventBridge event is refused")
        try:
            event = _event(request)
        except InvalidPayload as error:
            raise Unauthorized(str(error)) from None
        if event.get("source") != EVENT_SOURCE:
            raise Unauthorized("the EventBridge event's source is not aws.ses")
        if event.get("account") not in accounts:
            raise Unauthorized(f"the EventBridge event's account is not in {ACCOUNTS_SETTING}")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` as the ingest function's EventBridge entry builds it (there is no signature:
        for samples, tests and ``make run``'s in-process tools; ``key`` is not used)."""
        return dataclasses.replace(request, transport=EVENTBRIDGE)

    def translate(self, request: WebhookRequest) -> Translation:
        event = _event(request)
        translation = Translation()
        detail_type = event.get("detail-type")
        if not isinstance(detail_type, str) or not detail_type:
            raise InvalidPayload("the EventBridge event has no detail-type")
        if detail_type not in EMAIL_DETAIL_TYPES:
            not_mapped(translation, detail_type, self.ignored_types)
            return translation
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise InvalidPayload("the EventBridge event has no id")
        return self.translate_record(event.get("detail"), event_id, translation)


def _event(request: WebhookRequest) -> dict[str, Any]:
    try:
        event = loads_json(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidPayload("not an EventBridge event (not JSON)") from None
    if not isinstance(event, dict):
        raise InvalidPayload("not an EventBridge event (not a JSON object)")
    return event


SOURCE = SesEventbridge
