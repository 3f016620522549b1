"""Expo push tickets and receipts, forwarded by your backend -> Customer.io ``Device Deleted``.

Expo does not call webhooks: your backend sends through ``POST https://exp.host/--/api/v2/push/send``
and gets one *push ticket* per message, then fetches *push receipts* with
``POST /--/api/v2/push/getReceipts``. Either may report ``DeviceNotRegistered``: "The device cannot
receive push notifications anymore and you should stop sending messages to the corresponding Expo
push token". Neither names the token or the person (a receipt is keyed by its id only), so the
backend forwards them here together with what it knows, in this body:

    {
      "tickets":  [{"token": "ExponentPushToken[...]", "userId": "42", "platform": "ios",
                    "ticket": {"status": "error", "message": "...", "details": {"error": "DeviceNotRegistered"}}}],
      "receipts": [{"token": "ExponentPushToken[...]", "userId": "42", "receiptId": "XXXXXXXX-...",
                    "receipt": {"status": "error", "message": "...", "details": {"error": "DeviceNotRegistered"}}}]
    }

``ticket`` and ``receipt`` are Expo's objects exactly as Expo returned them (one element of the
send response's ``data``; one value of the receipts response's ``data`` map). ``token`` and
``userId`` are required for a ``DeviceNotRegistered``; ``platform`` (``ios`` | ``android``),
``receiptId`` and ``timestamp`` (when your backend got the answer) are optional. Either list may be
absent.

Sources: https://docs.expo.dev/push-notifications/sending-notifications/ ("Push tickets",
"Push receipts", "Individual errors", "Formats"; expo/expo docs/pages/push-notifications/
sending-notifications.mdx) and the ticket/receipt types of expo/expo-server-sdk-node src/ExpoClient.ts.

Mapping:

    ticket or receipt  status "error", details.error "DeviceNotRegistered"
                                            -> Device Deleted  (context.device.token <- token,
                                               context.device.type <- platform when ios/android,
                                               userId <- userId)
    status "ok"                             -> not translated, counted (``ticket:ok`` / ``receipt:ok``)
    other errors (MessageTooBig, MessageRateExceeded, MismatchSenderId, InvalidCredentials, ...)
                                            -> not translated, counted (``receipt:MessageTooBig``, ...)

Decisions:

- Authentication: a bearer token, ``EXPO_FORWARDER_TOKEN``, compared in constant time; the
  ``Authorization`` header is never stored (``_credentials.BearerTokenSource``).
- ``Device Deleted`` requires a ``userId`` (the spec's known-user action). It comes only from the
  forwarded item (``EXPO_USER_ID_KEYS``, default ``userId``); a ``DeviceNotRegistered`` without one
  fails the request (``InvalidPayload``), as does one without a ``token``. Nothing is invented.
- The device ``type`` is set only from a forwarded ``platform`` of ``ios`` or ``android``: an Expo
  push token does not say which platform it belongs to. Any other platform leaves it out.
- ``messageId``: Expo gives error tickets no id, so it is the UUIDv5 of the canonical forwarded
  item (which includes ``receiptId`` when sent). The same answer forwarded twice is one event.
- Tokens are personal data: they go into the event, never into logs or error texts.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError

from ... import ids
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.actions import DeviceDeleted
from .._credentials import BearerTokenSource
from .._translation import load_json, optional_timestamp
from ..base import InvalidPayload, Translation

SECRET = "EXPO_FORWARDER_TOKEN"
DEVICE_NOT_REGISTERED = "DeviceNotRegistered"
KINDS = (("tickets", "ticket"), ("receipts", "receipt"))
PLATFORMS = frozenset({"ios", "android"})


def parse_body(body: bytes) -> dict[str, list[dict[str, Any]]]:
    parsed = load_json(body)
    if not isinstance(parsed, dict) or not any(key in parsed for key, _ in KINDS):
        raise InvalidPayload('body is not {"tickets": [...], "receipts": [...]}')
    lists = {}
    for key, field in KINDS:
        items = parsed.get(key)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise InvalidPayload(f"{key} is not a list")
        for index, item in enumerate(items):
            answer = item.get(field) if isinstance(item, dict) else None
            if not isinstance(answer, dict) or answer.get("status") not in ("ok", "error"):
                raise InvalidPayload(f"{key}[{index}] has no Expo {field} with a status of ok or error")
        lists[key] = items
    return lists


class Expo(BearerTokenSource):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "expo"
    docs_url: ClassVar[str] = "https://docs.expo.dev/push-notifications/sending-notifications/"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[dict[str, str]] = {
        "ticket:ok": "the push was accepted: nothing to delete",
        "receipt:ok": "the push was delivered: nothing to delete",
        "ticket:*": "an error other than DeviceNotRegistered: the device is still registered",
        "receipt:*": "an error other than DeviceNotRegistered: the device is still registered",
    }

    def translate(self, request: WebhookRequest) -> Translation:
        rules = IdentityRules.from_settings(self.settings, "EXPO", default_keys=("userId",))
        translation = Translation()
        lists = parse_body(request.body)
        for key, field in KINDS:
            for index, item in enumerate(lists[key]):
                answer = item[field]
                details = answer.get("details")
                error = details.get("error") if isinstance(details, dict) else None
                if answer["status"] == "ok":
                    translation.ignored[f"{field}:ok"] += 1
                elif error != DEVICE_NOT_REGISTERED:
                    translation.ignored[f"{field}:{str(error)[:48] if error else 'error'}"] += 1
                else:
                    translation.events.append(self._device_deleted(f"{key}[{index}]", item, rules))
        return translation

    def _device_deleted(self, where: str, item: dict[str, Any], rules: IdentityRules) -> DeviceDeleted:
        token = item.get("token")
        if not isinstance(token, str) or not token:
            raise InvalidPayload(f"{where}: DeviceNotRegistered without the token it refers to")
        try:
            identity = rules.resolve(item, None)
        except NoIdentity:
            raise InvalidPayload(f"{where}: DeviceNotRegistered without a user id ({', '.join(rules.user_id_keys)})") from None
        platform = item.get("platform")
        device = {"token": token, "type": platform} if platform in PLATFORMS else {"token": token}
        timestamp = optional_timestamp(item.get("timestamp"), f"{where}: timestamp")
        try:
            return DeviceDeleted.model_validate({
                **identity,
                "messageId": ids.message_id_of_content(self.full_name(), item),
                "timestamp": timestamp,
                "context": {"device": device},
            })
        except ValidationError as error:
            raise InvalidPayload(f"{where}: invalid {', '.join(sorted({str(e['loc'][-1]) for e in error.errors()}))}") from None


SOURCE = Expo
