"""OneSignal Event Streams -> Customer.io ``Report Delivery Event`` and ``Device Deleted``.

OneSignal posts one request per message event to the URL of an *Event Stream* (Data > Event
Streams). The body is whatever JSON the stream's template renders with Liquid, so this source
defines the template (docs/sources/onesignal.md, "The body"); it reads these fields of it:

    {
      "event":   {"kind": "{{ event.kind }}", "id": "{{ event.id }}", "timestamp": {{ event.timestamp }},
                  "app_id": "{{ event.app_id }}", "subscription_device_type": "{{ event.subscription_device_type }}",
                  "subscription_id": "{{ event.subscription_id }}", "onesignal_id": "{{ event.onesignal_id }}",
                  "external_id": "{{ event.external_id }}"},
      "message": {"id": "{{ message.id }}"},
      "customerio": {"delivery_id": "...", "device_token": "..."}
    }

``event`` and ``message`` hold OneSignal's documented Liquid fields under their own names (Event
Stream data reference). ``customerio`` holds the two things Customer.io's events need that
OneSignal's reference documents no field for: the Customer.io delivery id a metric belongs to
(Report Delivery Event's ``deliveryId``, which Customer.io traces back to a person and campaign: a
OneSignal ``message.id`` is not one), and the push token Customer.io knows the device by (Device
Deleted's ``context.device.token``: a OneSignal ``subscription_id`` is not one). A template fills
them where it can; an item that needs one and lacks it is failed and kept with the reason, never
sent with a made-up id. A JSON array of such objects is read as a batch.

Sources: https://documentation.onesignal.com/docs/en/event-streams.md (setup, custom headers,
Liquid body), https://documentation.onesignal.com/docs/en/event-streams-data.md (fields and the
event kind reference), https://documentation.onesignal.com/docs/en/analytics-metrics-glossary.md
(what failed and unsubscribed mean for a push subscription).

Mapping (``MAPPED``, ``IGNORED``; docs/sources/onesignal.md shows the table, checked against both):

- ``message.push.received`` ("Push notification received by recipient", Confirmed Delivery) ->
  Report Delivery Event ``delivered``; ``message.push.clicked`` ("User tapped the push notification
  to open the app on device") -> Report Delivery Event ``opened``, Customer.io's metric for a
  tapped push. ``recipient`` is left out: the spec's recipient is an address or token, and the
  template carries the token only for unsubscribes.
- ``message.push.unsubscribed`` -> Device Deleted: OneSignal's glossary counts a push subscription
  unsubscribed after an uninstall, cleared browser data or an opt-out, and "will not attempt to send
  to these subscriptions in future messages": the device is gone for push. ``userId`` <-
  ``event.external_id`` (``ONESIGNAL_USER_ID_KEYS``), ``context.device.type`` <- ``iOS``/``Android``.
- ``message.push.failed`` is ignored: OneSignal keeps a failed subscription and tries it again on
  later messages, so nothing says the device is gone. ``message.push.sent`` is ignored (handed to
  FCM/APNs, not yet on the device).
- The documented email, SMS and in-app kinds, and every Live Activity kind (``message.live_activity.*``:
  the reference names their actions, not their kinds), are ignored: this route sends push and device
  events. Any other kind (a new one, or ``message.email.suppressed`` should OneSignal correct its spelling) is unknown and kept.

Decisions:

- Authentication: OneSignal signs nothing; a stream sends the custom headers it is given. The
  stream sends ``Authorization: Bearer <ONESIGNAL_STREAM_TOKEN>``, compared in constant time and
  never stored (``_credentials.BearerTokenSource``).
- ``messageId``: UUIDv5 of ``event.id`` ("use this ID for idempotent delivery tracking"), so
  OneSignal's retries and our replays are one event.
- An empty Liquid value (``""``, what OneSignal renders for a field it has not set) counts as absent.
- Tokens and external ids go into events, never into logs or error texts (reasons name fields).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ... import ids
from ...config import Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.actions import DeviceDeleted, ReportDeliveryEvent
from .._credentials import BearerTokenSource
from .._translation import build, load_json, object_or_empty, timestamp_of
from ..base import InvalidPayload, Translation, is_declared
from ._context import text

SECRET = "ONESIGNAL_STREAM_TOKEN"
#: Report Delivery Event's metric for each push kind.
METRICS = {"message.push.received": "delivered", "message.push.clicked": "opened"}
UNSUBSCRIBED = "message.push.unsubscribed"
DEVICE_TYPES = {"ios": "ios", "android": "android"}  # event.subscription_device_type, lower-cased

MAPPED: dict[str, str] = {**{kind: ReportDeliveryEvent.name for kind in METRICS}, UNSUBSCRIBED: DeviceDeleted.name}
IGNORED: dict[str, str] = {
    "message.push.sent": "handed to the push service (FCM, APNs), not yet on the device: message.push.received reports the delivery",
    "message.push.failed": "a send error: OneSignal keeps the subscription and tries it on later messages, so the device is not gone",
    **{f"message.iam.{action}": "an in-app message of OneSignal's: Customer.io has no delivery of it to report" for action in ("displayed", "clicked", "pagedisplayed")},
    **{f"message.email.{action}": "an email of OneSignal's: this mobile route sends push and device events only" for action in (
        "sent", "received", "opened", "clicked", "unsubscribed", "reported_as_spam", "hardbounced", "failed", "supressed",
    )},
    **{f"message.sms.{action}": "an SMS of OneSignal's: Customer.io's semantic events have none for SMS" for action in ("sent", "failed", "delivered", "undelivered")},
    "message.live_activity.*": "an iOS Live Activity update: Customer.io's semantic events have none for it",
}  # fmt: skip


def items_of(body: bytes) -> list[dict[str, Any]]:
    """The stream items of a request: one object, or an array of them; else ``InvalidPayload``."""
    parsed = load_json(body)
    items = parsed if isinstance(parsed, list) else [parsed]
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
            raise InvalidPayload(f"item {index} has no event object (see the body template in docs/sources/onesignal.md)")
        if not text(item["event"], "kind"):
            raise InvalidPayload(f"item {index} has no event.kind")
    return items


class OneSignal(BearerTokenSource):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "onesignal"
    docs_url: ClassVar[str] = "https://documentation.onesignal.com/docs/en/event-streams"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = MAPPED

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.rules = IdentityRules.from_settings(self.settings, "ONESIGNAL", ("external_id",))

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        for index, item in enumerate(items_of(request.body)):
            kind = str(item["event"]["kind"])[:64]
            if kind in MAPPED:
                with translation.item(f"item {index} ({kind})"):
                    translation.events.append(self._event(f"item {index}", kind, item))
            else:
                (translation.ignored if is_declared(kind, IGNORED) else translation.unknown)[kind] += 1
        return translation

    def _event(self, where: str, kind: str, item: dict[str, Any]) -> ReportDeliveryEvent | DeviceDeleted:
        event = item["event"]
        event_id = text(event, "id")
        if event_id is None:
            raise InvalidPayload("no event.id")
        customerio = object_or_empty(item.get("customerio"))
        common = {"messageId": ids.message_id(self.full_name(), event_id), "timestamp": timestamp_of(event.get("timestamp"), "event.timestamp")}
        if kind in METRICS:
            delivery_id = text(customerio, "delivery_id")
            if delivery_id is None:
                raise InvalidPayload("no customerio.delivery_id (a OneSignal message id is not a Customer.io delivery)")
            return build(ReportDeliveryEvent, {**common, "properties": {"deliveryId": delivery_id, "metric": METRICS[kind]}}, where)
        token = text(customerio, "device_token")
        if token is None:
            raise InvalidPayload("no customerio.device_token (a OneSignal subscription id is not a push token)")
        try:
            identity = self.rules.resolve(event, None)
        except NoIdentity:
            raise InvalidPayload(f"no user id ({', '.join(f'event.{key}' for key in self.rules.user_id_keys)})") from None
        device_type = DEVICE_TYPES.get((text(event, "subscription_device_type") or "").lower())
        device = {"token": token, "type": device_type} if device_type else {"token": token}
        return build(DeviceDeleted, {**identity, **common, "context": {"device": device}}, where)


SOURCE = OneSignal
