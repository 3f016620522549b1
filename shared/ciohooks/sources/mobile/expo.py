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

Expo's own responses are taken as well, forwarded as Expo returned them:

- the send response ``{"data": [<ticket>, ...]}`` (or one ticket object for a single message), with
  ``errors`` when the whole request failed;
- the receipts response ``{"data": {<receipt id>: <receipt>, ...}}``.

Neither names a person, and a receipt names no token. The token of an error ticket is taken from
``details.expoPushToken`` when Expo sends it, else from its ``message``, which quotes it (the docs'
example: ``"\"ExponentPushToken[xxx]\" is not a registered push notification recipient"``). The
user is the top-level ``userId`` a forwarder may add beside ``data`` (``EXPO_USER_ID_KEYS``). A
``DeviceNotRegistered`` still lacking either is kept with the reason (``Translation.failed``):
forward it in the wrapper above to have it sent.

Mapping: ``MAPPED`` (``<ticket|receipt>:DeviceNotRegistered`` -> Device Deleted) and ``IGNORED``
(``ok`` answers, the other documented errors, request-level errors, each with the reason);
docs/sources/expo.md shows the table, checked against both. An error code Expo does not document
is unknown and kept. ``context.device.token`` <- token, ``context.device.type`` <- platform when
``ios``/``android``, ``userId`` <- userId.

Decisions:

- Authentication: a bearer token, ``EXPO_FORWARDER_TOKEN``, compared in constant time; the
  ``Authorization`` header is never stored (``_credentials.BearerTokenSource``).
- ``Device Deleted`` requires a ``userId`` (the spec's known-user action). It comes only from the
  forwarded item (``EXPO_USER_ID_KEYS``, default ``userId``); a ``DeviceNotRegistered`` without one
  fails the request (``InvalidPayload``), as does one without a ``token``. Nothing is invented.
- The device ``type`` is set only from a forwarded ``platform`` of ``ios`` or ``android``: an Expo
  push token does not say which platform it belongs to. Any other platform leaves it out.
- ``messageId``: Expo gives error tickets no id, so it is the UUIDv5 of the canonical forwarded
  item (which includes ``receiptId`` when sent; for Expo's own responses, of the item read from
  it: answer, token, user and receipt id). The same answer forwarded twice is one event.
- Tokens are personal data: they go into the event, never into logs or error texts.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, Mapping

from ... import ids
from ...config import Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.actions import DeviceDeleted
from .._credentials import BearerTokenSource
from .._translation import build, load_json, optional_timestamp
from ..base import InvalidPayload, Translation

SECRET = "EXPO_FORWARDER_TOKEN"
DEVICE_NOT_REGISTERED = "DeviceNotRegistered"
KINDS = (("tickets", "ticket"), ("receipts", "receipt"))
PLATFORMS = frozenset({"ios", "android"})
TOKEN_IN_MESSAGE = re.compile(r"Expo(?:nent)?PushToken\[[^\]]+\]")

MAPPED: dict[str, str] = {f"{field}:{DEVICE_NOT_REGISTERED}": DeviceDeleted.name for _, field in KINDS}
# The error codes of a ticket or a receipt other than DeviceNotRegistered (expo-server-sdk-node,
# src/ExpoClient.ts: ExpoPushErrorTicket = ExpoPushErrorReceipt; MismatchSenderId from Expo's
# push docs): none says the device is gone.
OTHER_ERRORS: dict[str, str] = {
    "MessageTooBig": "the payload was too large: a sending bug, not a device change",
    "MessageRateExceeded": "too many messages to one device: back off, the device is fine",
    "MismatchSenderId": "FCM credentials do not match: a configuration fault, not a device change",
    "InvalidCredentials": "the app's push credentials are invalid: a configuration fault",
    "DeveloperError": "the message was built wrong: a sending bug, not a device change",
    "ExpoError": "Expo failed to handle the message: nothing says the device is gone",
    "ProviderError": "Apple or Google failed to handle the message: nothing says the device is gone",
}
IGNORED: dict[str, str] = {
    "ticket:ok": "Expo accepted the message: nothing to change",
    "receipt:ok": "Apple or Google accepted the message: nothing to change",
    **{f"{field}:{code}": reason for _, field in KINDS for code, reason in OTHER_ERRORS.items()},
    "ticket:error": "an error ticket without an error code: nothing says the device is gone",
    "receipt:error": "an error receipt without an error code: nothing says the device is gone",
    **{f"errors:{code}": "the whole request to Expo failed: it names no device" for code in (
        "TOO_MANY_REQUESTS", "PUSH_TOO_MANY_EXPERIENCE_IDS", "PUSH_TOO_MANY_NOTIFICATIONS", "PUSH_TOO_MANY_RECEIPTS", "UNAUTHORIZED",
    )},
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Answer:
    """One ticket or receipt and what is known about it (the forwarded item, or what was read)."""

    field: str  # "ticket" | "receipt"
    where: str  # e.g. "tickets[0]" or "data[0]", never a value
    answer: dict[str, Any]
    item: dict[str, Any]  # token, userId (or the configured keys), platform, receiptId, timestamp

    @property
    def kind(self) -> str:
        """The event table's key: ``ticket:ok``, ``receipt:DeviceNotRegistered``, ``ticket:error``..."""
        if self.answer["status"] == "ok":
            return f"{self.field}:ok"
        details = self.answer.get("details")
        error = details.get("error") if isinstance(details, dict) else None
        return f"{self.field}:{str(error)[:48] if error else 'error'}"


def parse_body(body: bytes) -> tuple[list[Answer], list[str]]:
    """The answers of a forward (``tickets``/``receipts``) or of an Expo response (``data``), and
    the codes of request-level ``errors``; else ``InvalidPayload``."""
    parsed = load_json(body)
    if isinstance(parsed, dict) and any(key in parsed for key, _ in KINDS):
        return forwarded_answers(parsed), []
    if isinstance(parsed, dict) and ("data" in parsed or "errors" in parsed):
        return response_answers(parsed), request_errors(parsed.get("errors"))
    raise InvalidPayload('body is neither {"tickets": [...], "receipts": [...]} nor an Expo push response {"data": ...}')


def checked(field: str, where: str, answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict) or answer.get("status") not in ("ok", "error"):
        raise InvalidPayload(f"{where} has no Expo {field} with a status of ok or error")
    return answer


def forwarded_answers(parsed: dict[str, Any]) -> list[Answer]:
    answers = []
    for key, field in KINDS:
        items = parsed.get(key)
        items = [] if items is None else items
        if not isinstance(items, list):
            raise InvalidPayload(f"{key} is not a list")
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            answer = checked(field, where, item.get(field) if isinstance(item, dict) else None)
            answers.append(Answer(field, where, answer, item))
    return answers


def response_answers(parsed: dict[str, Any]) -> list[Answer]:
    """Expo's send response (a list of tickets, or one ticket) or receipts response (id -> receipt)."""
    data, person = parsed.get("data"), {k: v for k, v in parsed.items() if k not in ("data", "errors")}
    if data is None:
        return []
    if isinstance(data, dict) and "status" in data:
        data = [data]  # "one push ticket object, if you send a single message to a single recipient"
    if isinstance(data, list):
        pairs = [("ticket", f"data[{i}]", ticket, None) for i, ticket in enumerate(data)]
    elif isinstance(data, dict):
        pairs = [("receipt", f"data[{i}]", receipt, receipt_id) for i, (receipt_id, receipt) in enumerate(data.items())]
    else:
        raise InvalidPayload(f"data is a JSON {type(data).__name__}, not tickets or receipts")
    answers = []
    for field, where, answer, receipt_id in pairs:
        answer = checked(field, where, answer)
        item = {**person, "token": token_of(answer), "receiptId": receipt_id, field: answer}
        answers.append(Answer(field, where, answer, {k: v for k, v in item.items() if v is not None}))
    return answers


def token_of(answer: dict[str, Any]) -> str | None:
    """The Expo push token an error answer names: ``details.expoPushToken``, else the one its message quotes."""
    details = answer.get("details")
    if isinstance(details, dict) and isinstance(details.get("expoPushToken"), str) and details["expoPushToken"]:
        return str(details["expoPushToken"])
    found = TOKEN_IN_MESSAGE.search(answer.get("message") or "") if isinstance(answer.get("message"), str) else None
    return found.group(0) if found else None


def request_errors(errors: Any) -> list[str]:
    if errors is None:
        return []
    if not isinstance(errors, list):
        raise InvalidPayload("errors is not a list")
    return [f"errors:{str(e.get('code'))[:48]}" if isinstance(e, dict) else "errors:?" for e in errors]


class Expo(BearerTokenSource):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "expo"
    docs_url: ClassVar[str] = "https://docs.expo.dev/push-notifications/sending-notifications/"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = MAPPED

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.rules = IdentityRules.from_settings(self.settings, "EXPO", ("userId",))

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        answers, errors = parse_body(request.body)
        for code in errors:
            (translation.ignored if code in IGNORED else translation.unknown)[code] += 1
        for answer in answers:
            kind = answer.kind
            if kind in MAPPED:
                with translation.item(answer.where):
                    translation.events.append(self._device_deleted(answer.where, answer.item))
            else:
                (translation.ignored if kind in IGNORED else translation.unknown)[kind] += 1
        return translation

    def _device_deleted(self, where: str, item: dict[str, Any]) -> DeviceDeleted:
        token = item.get("token")
        if not isinstance(token, str) or not token:
            raise InvalidPayload(f"{where}: DeviceNotRegistered without the token it refers to")
        try:
            identity = self.rules.resolve(item, None)
        except NoIdentity:
            raise InvalidPayload(f"{where}: DeviceNotRegistered without a user id ({', '.join(self.rules.user_id_keys)})") from None
        platform = item.get("platform")
        device = {"token": token, "type": platform} if platform in PLATFORMS else {"token": token}
        timestamp = optional_timestamp(item.get("timestamp"), f"{where}: timestamp")
        return build(DeviceDeleted, {
            **identity,
            "messageId": ids.message_id_of_content(self.full_name(), item),
            "timestamp": timestamp,
            "context": {"device": device},
        }, where)


SOURCE = Expo
