"""Mailchimp Transactional (Mandrill) webhooks -> Customer.io email semantic events.

Mandrill POSTs ``application/x-www-form-urlencoded`` bodies with one parameter, ``mandrill_events``,
a JSON array of events (batched). Each request carries ``X-Mandrill-Signature``: base64 of
HMAC-SHA1(webhook key, the webhook URL exactly as registered in Mandrill + every POST parameter's
key and value, sorted by key). When a webhook is added, Mandrill checks the URL with a HEAD request
(no signature: Mandrill shows the key only after the URL passed).

- Webhooks: https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/
- Event format: https://mailchimp.com/developer/transactional/docs/webhooks/
- Signature: https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/#authenticating-webhook-requests
  (formerly help.mandrill.com/entries/23704122-Authenticating-webhook-requests)
- Sync events (whitelist/blacklist): https://mailchimp.com/developer/transactional/docs/webhooks/#sync-events

Mapping (``event`` -> Customer.io event):

    delivered     -> Email Delivered: "message has received a response from the recipient's mail
                     server indicating successful delivery"
    send          -> ignored: "message has been sent successfully" means accepted and sent by
                     Mandrill; the email policy keeps Email Delivered for the receiving server's
                     answer (``delivered``), so a message is never delivered twice
    hard_bounce   -> Email Bounced (bounce_description, diag when sent)
    soft_bounce   -> soft: ignored "soft_bounce:soft" unless MANDRILL_SOFT_BOUNCES=bounce
    open          -> Email Opened
    click         -> Email Link Clicked (link_url <- url)
    spam          -> Email Marked as Spam
    unsub         -> Email Unsubscribed
    deferral      -> ignored: a delivery delay, Mandrill retries (not even a soft bounce yet)
    reject        -> ignored: Mandrill did not send (rejection list, invalid sender, ...)
    inbound, and sync events (``type`` whitelist/blacklist/allowlist/denylist, no ``event``:
                  counted "sync:<type>") -> ignored
    anything else -> unknown: kept (the request goes to the DLQ for a later replay)

The table in docs/sources/mandrill.md is checked against ``EVENTS`` and ``ignored_types``.

Policy: SOFT_BOUNCES applies to soft_bounce. BLOCKS has nothing to act on (Mandrill's bounce
events do not separate blocks). OPENS=first and MACHINE_OPENS cannot apply: Mandrill's open event
carries no first-open or machine-open flag. GROUP_UNSUBSCRIBES cannot apply: ``unsub`` names no
list.

Decisions:

- ``email_id`` is the message's ``_id`` (``msg._id``, the id Mandrill's send API returns per
  recipient; the event's top-level ``_id`` is the same id).
- ``messageId``: Mandrill sends no event id. The UUIDv5 of the message ``_id``, the event type, the
  event ``ts`` and (for clicks) the ``url``: a retried batch gives the same ids, two opens at
  different times differ.
- Identity: ``IdentityRules.from_settings(settings, "MANDRILL")`` over ``msg.metadata`` (default key
  ``user_id``), else ``msg.email`` as MANDRILL_EMAIL_AS says. The address goes to
  ``context.traits.email``; on open and click, ``ip`` and ``user_agent`` go to traits when sent.
- ``msg.subject`` -> ``email_subject``; the event's ``ts`` (unix seconds) is the timestamp.
- The signed URL: MANDRILL_WEBHOOK_URL, exactly as entered in Mandrill (query string included).
  Default: the URL of the request as this function saw it (``https://<host><path>?<query>``),
  which is right for a Function URL called directly but wrong behind a proxy, CloudFront or a
  custom domain. Several webhook keys may be configured, comma-separated (one per Mandrill webhook).
- Answer codes: 200 for everything accepted, and for the HEAD/GET probe (Mandrill refuses to add a
  webhook whose URL does not answer 200). Mandrill retries other answers.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import json
from typing import Any, ClassVar, Iterable, Mapping
from urllib.parse import parse_qsl, urlencode

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
from .._translation import EventBatch, email_fields, not_mapped, text_or_none, timestamp_of
from ..base import InvalidPayload, Reply, Source, Translation, Unauthorized
from ._policy import DELAYED, NEVER_SENT, NOT_YET_SENT, SOFT_BOUNCE, EmailPolicy

KEY_SECRET = "MANDRILL_WEBHOOK_KEY"
SIGNATURE_HEADER = "x-mandrill-signature"

EVENTS: dict[str, type[EmailEvent]] = {
    "delivered": EmailDelivered,
    "hard_bounce": EmailBounced,
    "soft_bounce": EmailBounced,
    "open": EmailOpened,
    "click": EmailLinkClicked,
    "spam": EmailMarkedAsSpam,
    "unsub": EmailUnsubscribed,
}
ENGAGEMENT = frozenset({"open", "click"})


def signature(key: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Mandrill's signature: base64(HMAC-SHA1(key, url + key1 + value1 + key2 + value2 ...)), keys sorted."""
    signed = url + "".join(k + v for k, v in sorted(params, key=lambda item: item[0]))
    return base64.b64encode(hmac.new(key.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()).decode("ascii")


@functools.lru_cache(maxsize=2)
def form_params(body: bytes) -> tuple[tuple[str, str], ...]:
    """The form's (name, value) pairs, decoded once per request: authentication and translation
    read the same bytes object, and percent-decoding a thousand-event form is most of the time its
    translation takes (bytes keep their hash, so the second lookup costs nothing)."""
    try:
        return tuple(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        return ()


class Mandrill(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "mandrill"
    docs_url: ClassVar[str] = "https://mailchimp.com/developer/transactional/guides/track-respond-activity-webhooks/"
    secret_name: ClassVar[str | None] = KEY_SECRET
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    ignored_types: ClassVar[Mapping[str, str]] = {
        "send": NOT_YET_SENT,
        "deferral": DELAYED,
        "reject": NEVER_SENT,
        "inbound": "an inbound message (mail received, not mail you sent)",
        **{f"sync:{kind}": "a sync event: the account's allow/deny list changed, about no message" for kind in ("whitelist", "blacklist", "allowlist", "denylist")},
        "soft_bounce:soft": SOFT_BOUNCE,
    }

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.policy = EmailPolicy.from_settings(self.settings, "MANDRILL")
        self.rules = IdentityRules.from_settings(self.settings, "MANDRILL")

    def reply_before_auth(self, request: WebhookRequest) -> Reply | None:
        # Mandrill checks the URL with an unsigned HEAD before it shows the webhook key.
        if request.method in ("HEAD", "GET"):
            return Reply(200, "")
        return None

    def authenticate(self, request: WebhookRequest) -> None:
        if (configured := self.secret_or_open(KEY_SECRET)) is None:
            return
        keys = credentials.several(KEY_SECRET, configured)
        given = request.header(SIGNATURE_HEADER)
        if not given:
            raise Unauthorized("missing X-Mandrill-Signature header")
        url = self.settings.get("MANDRILL_WEBHOOK_URL") or request.url
        params = form_params(request.body)
        matched = [hmac.compare_digest(signature(key, url, params).encode(), given.strip().encode()) for key in keys]
        if not any(matched):
            raise Unauthorized("Mandrill signature does not match (check MANDRILL_WEBHOOK_URL and the webhook key)")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """Add the X-Mandrill-Signature Mandrill would send to ``request.url`` with webhook key ``key``."""
        key = key.split(",")[0].strip()
        return dataclasses.replace(request, headers={**request.headers, SIGNATURE_HEADER: signature(key, request.url, form_params(request.body))})

    def translate(self, request: WebhookRequest) -> Translation:
        params = dict(form_params(request.body))
        if "mandrill_events" not in params:
            raise InvalidPayload("body has no mandrill_events form parameter")
        try:
            events = loads_json(params["mandrill_events"])
        except json.JSONDecodeError as error:
            raise InvalidPayload(f"mandrill_events is not JSON ({error.__class__.__name__})") from None
        if not isinstance(events, list):
            raise InvalidPayload(f"mandrill_events is a JSON {type(events).__name__}, not an array")
        translation = Translation()
        with EventBatch(translation) as batch:  # validated per event type when the loop is done
            for index, event in enumerate(events):
                with translation.item(f"event {index}"):
                    kind = _kind(index, event)
                    if kind not in EVENTS:
                        not_mapped(translation, kind, self.ignored_types)
                    elif kind == "soft_bounce" and not self.policy.soft_bounces_are_bounces:
                        translation.ignored["soft_bounce:soft"] += 1
                    else:
                        where = f"event {index} ({kind})"
                        batch.add(EVENTS[kind], self._fields(where, kind, event, self.rules), where)
        return translation

    def _fields(self, where: str, kind: str, event: Mapping[str, Any], rules: IdentityRules) -> dict[str, Any]:
        """What the event's model validates (``EventBatch``)."""
        msg = event.get("msg") if isinstance(event.get("msg"), dict) else {}
        recipient = address(msg.get("email"))
        if recipient is None:
            raise InvalidPayload(f"{where}: no address in msg.email")
        email_id = msg.get("_id") or event.get("_id")
        if not isinstance(email_id, str) or not email_id:
            raise InvalidPayload(f"{where}: no _id, so no email_id")
        timestamp = timestamp_of(event.get("ts"), f"{where}: ts")

        properties: dict[str, Any] = {"email_id": email_id, "email_subject": text_or_none(msg.get("subject"))}
        traits: dict[str, Any] = {"email": recipient}
        if kind in ENGAGEMENT:
            traits.update(ip=text_or_none(event.get("ip")), user_agent=text_or_none(event.get("user_agent")))
        if kind == "click":
            properties["link_url"] = text_or_none(event.get("url"))
        if kind in ("hard_bounce", "soft_bounce"):
            properties.update(bounce_type=kind, bounce_description=text_or_none(msg.get("bounce_description")), diag=text_or_none(msg.get("diag")))

        metadata = msg.get("metadata")
        try:
            identity = rules.resolve(metadata if isinstance(metadata, dict) else {}, recipient)
        except NoIdentity as error:
            raise InvalidPayload(f"{where}: {error}") from None
        qualifiers = [kind, str(event.get("ts"))] + ([str(event.get("url"))] if kind == "click" else [])
        message_id = ids.message_id(self.full_name(), email_id, *qualifiers)
        return email_fields(identity, message_id, timestamp, properties, traits)


def _kind(index: int, event: Any) -> str:
    """The event's type: ``event``, or ``sync:<type>`` for a sync event (which has no ``event``)."""
    if not isinstance(event, dict):
        raise InvalidPayload(f"event {index} is a JSON {type(event).__name__}, not an object")
    kind, sync = event.get("event"), event.get("type")
    if isinstance(kind, str) and kind:
        return kind[:64]
    if isinstance(sync, str) and sync:
        return f"sync:{sync[:48]}"
    raise InvalidPayload(f"event {index} has no event type")


def form_body(events: list[Mapping[str, Any]]) -> bytes:
    """A ``mandrill_events=...`` body as Mandrill posts it (for tests and samples)."""
    return urlencode({"mandrill_events": json.dumps(events)}).encode("ascii")


SOURCE = Mandrill
