"""Mailjet Event API (webhooks) -> Customer.io email semantic events.

- Events and payloads: https://dev.mailjet.com/email/guides/webhooks/
  (sources: github.com/mailjet/api-documentation, guides/_event-api.md)
- Retries: "It must return a 200 OK HTTP code if all goes well. Any other HTTP code will result in our
  server retrying the request later": every 30 s, for 24 h after the first failure.

Mailjet POSTs one JSON event object, or, with "group events" (eventcallbackurl ``Version`` 2, the
"Group Events" checkbox), a JSON array of the events of the last second, types mixed. Both are read.

Mapping (Mailjet ``event`` -> Customer.io event):

    sent     -> Email Delivered        ("the destination SMTP server has accepted the message")
    open     -> Email Opened
    click    -> Email Link Clicked     link_url <- url
    bounce   -> Email Bounced          hard_bounce true; hard_bounce false is a soft bounce
                                       (MAILJET_SOFT_BOUNCES / EMAIL_SOFT_BOUNCES, default: ignored)
    blocked  -> ignored: Mailjet did not send the message ("preblocked", "duplicate in campaign",
                an address it had already seen fail...): never sent, so not a bounce (email policy)
    spam     -> Email Marked as Spam   (+ source: the feedback loop that reported it)
    unsub    -> Email Unsubscribed     list_id <- mj_list_id
    anything else -> unknown: kept (the request goes to the DLQ for a later replay)

The table in docs/sources/mailjet.md is checked against ``EVENTS`` and ``ignored_types``.

Authentication: Mailjet has no signature. It recommends "a secure (HTTPS) URL in combination with a
basic authentication": the Event URL is ``https://user:password@<function url>/mailjet`` and every
POST then carries ``Authorization: Basic ...``. ``MAILJET_BASIC_AUTH`` holds ``user:password``;
the decoded credentials are compared in constant time (``_credentials.py``). Without it every
request is refused (NotConfigured, 503; Mailjet retries for 24 h) unless
``CIOHOOKS_ALLOW_UNSIGNED``. There is no timestamp to check, so a captured request could be
replayed: replays are harmless, because each event's messageId is derived from its content.

Decisions:

- ``email_id`` is ``MessageID``, Mailjet's message id (the one its Send API returns and its REST API
  is keyed by), as a string. It exceeds 2^53 (e.g. 19421777835146490), so it must never pass through
  a float: Python's ``json`` keeps integers exact, and an id that arrives as a float or in exponent
  form is refused rather than emitted with lost digits. Events without ``MessageID`` (the grouped
  sample of the docs) use the deprecated ``mj_message_id``, the same number as a string, so the id is
  spelled the same either way. ``MAILJET_EMAIL_ID=message_guid`` uses ``Message_GUID`` (the
  MessageUUID of the Send API v3.1) instead. ``Message_GUID`` is passed on as ``message_guid``.
- ``messageId``: Mailjet sends no event id, so it is the UUIDv5 of the event's canonical content.
- Identity: ``IdentityRules.from_settings(settings, "MAILJET")`` over the send-time metadata:
  ``Payload`` (a string; when it holds a JSON object its keys are read) and ``CustomID`` (under the
  key ``CustomID``). Default ``MAILJET_USER_ID_KEYS=user_id`` (a key of the Payload JSON);
  ``MAILJET_USER_ID_KEYS=CustomID`` makes the CustomID the userId. Else the address, as
  ``MAILJET_EMAIL_AS`` says (default anonymousId). ``CustomID`` is also passed on as ``custom_id``.
- Campaign: ``campaign_id`` <- ``mj_campaign_id`` (0 means none), ``campaign_name`` <-
  ``customcampaign`` (the X-Mailjet-Campaign header, "" means none). Mailjet sends no subject.
- ``ip`` and ``agent`` go to ``context.traits`` (ip, user_agent) for open, click and unsub: the
  events where Mailjet documents them as the recipient's.
- An unsub always carries the contact list the recipient left (``mj_list_id``): Mailjet has no other
  kind of unsubscribe to tell it apart from, so the group-unsubscribe policy does not apply.
- One event that cannot be translated does not hold back the others (``translation.item``): they
  are sent and the request is kept in the DLQ with the reason.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Mapping

from ... import ids
from ...config import Settings
from ...identity import IdentityRules, NoIdentity, address
from ...request import WebhookRequest, loads_json
from ...semantic.email import (
    EmailBounced,
    EmailDelivered,
    EmailEvent,
    EmailLinkClicked,
    EmailMarkedAsSpam,
    EmailOpened,
    EmailUnsubscribed,
)
from .. import _credentials as credentials
from .._translation import EventBatch, event_objects, not_mapped, timestamp_of
from ..base import InvalidPayload, Source, Translation
from ._policy import NEVER_SENT, SOFT_BOUNCE, EmailPolicy, choice

SECRET = "MAILJET_BASIC_AUTH"
EVENTS: dict[str, type[EmailEvent]] = {
    "sent": EmailDelivered,
    "open": EmailOpened,
    "click": EmailLinkClicked,
    "bounce": EmailBounced,
    "spam": EmailMarkedAsSpam,
    "unsub": EmailUnsubscribed,
}
ENGAGEMENT = frozenset({"open", "click", "unsub"})
BOUNCE_DETAILS = ("hard_bounce", "blocked", "error_related_to", "error", "comment")


# ---- payload -------------------------------------------------------------------------------------


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """One event object or a grouped array, as a list of objects with a string ``event``.

    ``json.loads`` makes every JSON integer a Python ``int``, exact at any size: MessageID survives.
    """
    return event_objects(body, single=True)


def exact_id(value: Any) -> str | None:
    """A numeric id as its exact decimal string; None if absent; InvalidPayload if it lost digits."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidPayload("MessageID is not a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    # A float (or "1.94e16") has already been rounded by whoever produced it: refuse, never guess.
    raise InvalidPayload("MessageID is not an exact integer")


def metadata(event: Mapping[str, Any]) -> dict[str, Any]:
    """Send-time metadata: the keys of ``Payload`` when it is a JSON object, and ``CustomID``."""
    found: dict[str, Any] = {}
    payload = event.get("Payload")
    if isinstance(payload, str) and payload.strip().startswith("{"):
        try:
            parsed = loads_json(payload)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            found.update(parsed)
    elif isinstance(payload, dict):
        found.update(payload)
    if isinstance(event.get("CustomID"), str) and event["CustomID"]:
        found["CustomID"] = event["CustomID"]
    return found


# ---- the source ----------------------------------------------------------------------------------


class Mailjet(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "mailjet"
    docs_url: ClassVar[str] = "https://dev.mailjet.com/email/guides/webhooks/"
    secret_name: ClassVar[str | None] = SECRET
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    ignored_types: ClassVar[Mapping[str, str]] = {"blocked": NEVER_SENT, "bounce:soft": SOFT_BOUNCE}

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.rules = IdentityRules.from_settings(self.settings, "MAILJET")
        self.policy = EmailPolicy.from_settings(self.settings, "MAILJET")
        self.by_guid = choice(self.settings, "MAILJET_EMAIL_ID", ("message_id", "message_guid")) == "message_guid"
        self.source_name = self.full_name()  # the messageId's namespace, read on every event

    def authenticate(self, request: WebhookRequest) -> None:
        if (configured := self.secret_or_open(SECRET)) is not None:
            expected = credentials.basic_secret(SECRET, configured)
            credentials.require(credentials.basic(request.header("authorization")), expected, "Basic Authorization header")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return credentials.with_header(request, "authorization", credentials.basic_header(key))

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        events, rules, by_guid = EVENTS, self.rules, self.by_guid
        soft_bounces_are_bounces = self.policy.soft_bounces_are_bounces
        with EventBatch(translation) as batch:
            for index, raw in enumerate(parse_events(request.body)):
                kind = raw["event"]
                if kind not in events:
                    not_mapped(translation, kind, self.ignored_types)
                elif kind == "bounce" and raw.get("hard_bounce") is not True and not soft_bounces_are_bounces:
                    translation.ignored["bounce:soft"] += 1
                else:
                    where = f"event {index + 1} ({kind})"
                    batch.add_from(events[kind], where, self._fields, where, kind, raw, rules, by_guid)
        return translation

    def _fields(self, where: str, kind: str, raw: Mapping[str, Any], rules: IdentityRules, by_guid: bool) -> dict[str, Any]:
        """What the event's model validates (``_translation.build``), in one pass over the event."""
        get = raw.get
        email = address(get("email"))
        if email is None:
            raise InvalidPayload(f"{where}: no address in email")
        try:
            email_id = _email_id(raw, by_guid)
        except InvalidPayload as error:
            raise InvalidPayload(f"{where}: {error}") from None
        if email_id is None:
            raise InvalidPayload(f"{where}: no MessageID")
        properties: dict[str, Any] = {"email_id": email_id}
        if get("mj_campaign_id") not in (0, "0") and (campaign_id := exact_id(get("mj_campaign_id"))) is not None:
            properties["campaign_id"] = campaign_id
        if campaign_name := get("customcampaign"):
            properties["campaign_name"] = campaign_name
        if custom_id := get("CustomID"):
            properties["custom_id"] = custom_id
        if message_guid := get("Message_GUID"):
            properties["message_guid"] = message_guid
        if kind == "click":
            if (url := get("url")) is not None:
                properties["link_url"] = url
        elif kind == "bounce":
            for name in BOUNCE_DETAILS:
                if (value := get(name)) is not None:
                    properties[name] = value
            properties["bounce_type"] = "hard" if get("hard_bounce") is True else "soft"
        elif kind == "spam":
            if (source := get("source")) is not None:
                properties["source"] = source
        elif kind == "unsub" and get("mj_list_id") not in (None, "", 0, "0"):
            properties["list_id"] = exact_id(get("mj_list_id"))
        traits: dict[str, Any] = {"email": email}
        if kind in ENGAGEMENT:
            if ip := get("ip"):
                traits["ip"] = ip
            if agent := get("agent"):
                traits["user_agent"] = agent
        try:
            fields: dict[str, Any] = rules.resolve(metadata(raw), email)
        except NoIdentity as error:
            raise InvalidPayload(f"{where}: {error}") from None
        fields["messageId"] = ids.message_id_of_content(self.source_name, raw)
        fields["timestamp"] = timestamp_of(get("time"), where)
        fields["context"] = {"traits": traits}
        fields["properties"] = properties
        return fields


def _email_id(raw: Mapping[str, Any], by_guid: bool) -> str | None:
    if by_guid:
        guid = raw.get("Message_GUID")
        return guid if isinstance(guid, str) and guid else None
    return exact_id(raw.get("MessageID")) or exact_id(raw.get("mj_message_id"))


SOURCE = Mailjet
