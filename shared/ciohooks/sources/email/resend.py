"""Resend webhooks -> Customer.io email semantic events.

- Event types and payloads: https://resend.com/docs/webhooks/event-types and the per-event pages
  https://resend.com/docs/webhooks/emails/<event> (sent, delivered, delivery-delayed, bounced, ...)
- Verifying: https://resend.com/docs/webhooks/verify-webhooks-requests (Svix, i.e. Standard Webhooks:
  https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
- Retries: Svix retries any non-2xx answer (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).

Resend POSTs one JSON event per request: ``{"type", "created_at", "data": {...}}``.

Mapping (Resend ``type`` -> Customer.io event):

    email.delivered         -> Email Delivered      for the only address in data.to (see below)
    email.bounced           -> Email Bounced        for the only address in data.to; bounce.type Transient or
                                                    Temporary is a soft bounce (RESEND_SOFT_BOUNCES /
                                                    EMAIL_SOFT_BOUNCES, default: ignored); subType
                                                    Suppressed / OnAccountSuppressionList was never
                                                    sent: ignored, not a bounce (email policy)
    email.complained        -> Email Marked as Spam for the only address in data.to
    email.opened            -> Email Opened         the recipient: the only address in data.to
    email.clicked           -> Email Link Clicked   link_url <- click.link; ip/user agent from click
    email.sent, email.scheduled, email.delivery_delayed, email.failed, email.suppressed,
    email.received, contact.created/updated/deleted, domain.created/updated/deleted
                            -> ignored (``ignored_types``, each with its reason)
    anything else           -> unknown: kept (the request goes to the DLQ for a later replay)

The table in docs/sources/resend.md is checked against ``EVENTS`` and ``ignored_types``.

Authentication (Standard Webhooks, HMAC-SHA256 over ``<id>.<timestamp>.<raw body>`` with the
base64 key after ``whsec_``): Resend sends the headers ``svix-id``, ``svix-timestamp`` and
``svix-signature`` (space-separated ``v1,<base64>`` entries); the ``webhook-*`` names of the
standard are read too. ``_standard_webhooks.py`` verifies (the ``standardwebhooks`` library computes
the HMAC; the timestamp is checked against the time AWS received the request, so a stored request
keeps the verdict it had; every ``v1`` entry is compared with ``hmac.compare_digest``). Tolerance:
``RESEND_TOLERANCE_SECONDS``, default 300 (the standard's and Svix's 5 minutes). Secret:
``RESEND_WEBHOOK_SECRET`` (the endpoint's ``whsec_...`` signing secret, 24 bytes or more as Svix's
are; several separated by spaces or commas while one is rotated); without it every request is
refused (503) unless ``CIOHOOKS_ALLOW_UNSIGNED``.

Replays: a request replayed within the tolerance (same ``svix-id``, same body) verifies again. That
is harmless: Svix resends a message with the same body, and messageIds are derived from the body,
so the replay produces the same messageIds and Customer.io sees the same events again. The same
``svix-id`` with a DIFFERENT body is refused (the shared replay store, ``_standard_webhooks``).

Decisions:

- ``email_id`` is ``data.email_id``, the id Resend's Send API returns. (``data.message_id``, when
  sent, is the RFC Message-ID header; it is passed on as ``message_id``.)
- ``messageId``: UUIDv5 of the event's canonical JSON and the recipient. ``svix-id`` is not used:
  it is a header, so a payload translated on its own (CLI, a replay without headers) would get
  another id; the body is identical on every Svix retry anyway.
- ``to`` is "Array of impacted recipient email addresses", each as the sender wrote it, so possibly
  ``"Name <addr@x.org>"``: the address is parsed out (``identity.address``); the display name is
  never an id or a trait. An event is attributed only when ``to`` holds exactly one address;
  otherwise it is counted as ``<type>:several_recipients`` rather than attributed to a guess.
  django-anymail, from live tests (anymail/webhooks/resend.py): "For multi-recipient emails
  (including cc and bcc), Resend generates events for each recipient, but no indication of which
  recipient an event applies to." Fanning one event out to every address in ``to`` would therefore
  send each address N events for N recipients, and pin a cc or bcc recipient's bounce on the ``to``
  addresses (a bounce can get a good address suppressed in Customer.io).
- Timestamp: ``click.timestamp`` for clicks, otherwise the top-level ``created_at`` (when the event
  happened). ``data.created_at`` is when the email was created, not used.
- Tags: the docs now describe ``data.tags`` as an object of key/value pairs (``{"category":
  "welcome", "user_id": "1234567890"}``, as Resend's Node SDK types it); older docs described an
  array of ``{name, value}`` objects. Both are read. Identity:
  ``IdentityRules.from_settings(settings, "RESEND")`` over the tags (default key ``user_id``), else
  the address as ``RESEND_EMAIL_AS`` (default anonymousId).
- ``campaign_id`` <- ``broadcast_id`` ("Unique identifier for the broadcast campaign");
  ``email_subject`` <- ``subject``; ``template_id`` passed on.
- ``email.suppressed`` (a send Resend refused because the address is suppressed) is not a bounce
  event of its own: Resend reports suppressed recipients as ``email.bounced`` with
  ``subType: Suppressed`` (its documented example), which would count them twice.
- ``email.failed`` is a sending error on the sender's side (quota, API key, domain), not a bounce.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ... import ids, replay_store
from ...config import Settings
from ...identity import IdentityRules, NoIdentity, address
from ...request import WebhookRequest
from ...semantic.email import (
    EmailBounced,
    EmailDelivered,
    EmailEvent,
    EmailLinkClicked,
    EmailMarkedAsSpam,
    EmailOpened,
)
from .. import _standard_webhooks as standard_webhooks
from .._translation import email_event, load_json, not_mapped, object_or_empty, timestamp_of
from ..base import InvalidPayload, Source, Translation
from ._policy import (
    DELAYED,
    NEVER_SENT,
    NOT_YET_SENT,
    PROVIDER_ERROR,
    SEVERAL_RECIPIENTS,
    SOFT_BOUNCE,
    SUPPRESSED_BOUNCE_SUBTYPES,
    EmailPolicy,
)

SECRET = "RESEND_WEBHOOK_SECRET"
DEFAULT_TOLERANCE_SECONDS = 300
EVENTS: dict[str, type[EmailEvent]] = {
    "email.delivered": EmailDelivered,
    "email.bounced": EmailBounced,
    "email.complained": EmailMarkedAsSpam,
    "email.opened": EmailOpened,
    "email.clicked": EmailLinkClicked,
}
SOFT_BOUNCE_TYPES = frozenset({"Transient", "Temporary"})


# ---- payload -------------------------------------------------------------------------------------


def parse_event(body: bytes) -> dict[str, Any]:
    event = load_json(body)
    if not isinstance(event, dict):
        raise InvalidPayload(f"body is a JSON {type(event).__name__}, not an event object")
    if not isinstance(event.get("type"), str) or not event["type"]:
        raise InvalidPayload("event has no type")
    return event


def tag_values(tags: Any) -> dict[str, str]:
    """``data.tags`` as a dict: an object of key/value pairs, or an array of ``{name, value}``."""
    if isinstance(tags, dict):
        return {k: v for k, v in tags.items() if isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool)}
    if isinstance(tags, list):
        return {t["name"]: t["value"] for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("value"), str)}
    return {}


# ---- the source ----------------------------------------------------------------------------------


class Resend(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "resend"
    docs_url: ClassVar[str] = "https://resend.com/docs/webhooks/event-types"
    secret_name: ClassVar[str | None] = SECRET
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    ignored_types: ClassVar[Mapping[str, str]] = {
        "email.sent": NOT_YET_SENT,
        "email.scheduled": "scheduled for a later send: nothing has been sent yet",
        "email.delivery_delayed": DELAYED,
        "email.failed": PROVIDER_ERROR,
        "email.suppressed": NEVER_SENT,
        "email.received": "an inbound email (received, not sent by you)",
        **{f"contact.{change}": "a change to an audience contact, not an email event" for change in ("created", "updated", "deleted")},
        **{f"domain.{change}": "a change to a sending domain, about no recipient" for change in ("created", "updated", "deleted")},
        **{f"email.bounced:{kind}": SOFT_BOUNCE for kind in sorted(SOFT_BOUNCE_TYPES)},
        **{f"email.bounced:{sub_type}": "a bounce of mail never sent (the address was on a suppression list): " + NEVER_SENT for sub_type in sorted(SUPPRESSED_BOUNCE_SUBTYPES)},
        **{f"{kind}:several_recipients": SEVERAL_RECIPIENTS for kind in EVENTS},
    }

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.policy = EmailPolicy.from_settings(self.settings, "RESEND")
        self.rules = IdentityRules.from_settings(self.settings, "RESEND")

    def authenticate(self, request: WebhookRequest) -> None:
        if (secret := self.secret_or_open(SECRET)) is not None:
            tolerance = self.tolerance_seconds("RESEND_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
            standard_webhooks.verify(request, secret, secret_name=SECRET, tolerance_seconds=tolerance, prefixes=standard_webhooks.SVIX, replays=replay_store.guard(self))

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return standard_webhooks.sign(request, key, prefixes=standard_webhooks.SVIX, id_length=27)

    def translate(self, request: WebhookRequest) -> Translation:
        event = parse_event(request.body)
        kind = event["type"]
        translation = Translation()
        if kind not in EVENTS:
            not_mapped(translation, kind, self.ignored_types)
            return translation
        data = event.get("data")
        if not isinstance(data, dict):
            raise InvalidPayload(f"{kind}: no data object")
        recipients = data.get("to")
        if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) and r for r in recipients):
            raise InvalidPayload(f"{kind}: data.to is not a list of addresses")
        if kind == "email.bounced" and (skipped := self._bounce_skipped(data)) is not None:
            translation.ignored[f"{kind}:{skipped}"] += 1
            return translation
        if len(dict.fromkeys(recipients)) > 1:
            translation.ignored[f"{kind}:several_recipients"] += 1  # see the module docstring
            return translation
        content_id = ids.message_id_of_content(self.full_name(), event)
        translation.events.append(self._event(kind, event, data, _address(kind, recipients[0]), self.rules, content_id))
        return translation

    def _bounce_skipped(self, data: Mapping[str, Any]) -> str | None:
        """The bounce (sub-)type when the email policy says this bounce is not an Email Bounced."""
        bounce = object_or_empty(data.get("bounce"))
        if bounce.get("subType") in SUPPRESSED_BOUNCE_SUBTYPES:
            return str(bounce["subType"])  # never sent: the address was on a suppression list
        if bounce.get("type") in SOFT_BOUNCE_TYPES and not self.policy.soft_bounces_are_bounces:
            return str(bounce["type"])
        return None

    def _event(self, kind: str, event: Mapping[str, Any], data: Mapping[str, Any], address: str, rules: IdentityRules, content_id: str) -> EmailEvent:
        email_id = data.get("email_id")
        if not isinstance(email_id, str) or not email_id:
            raise InvalidPayload(f"{kind}: no data.email_id")
        tags = tag_values(data.get("tags"))
        properties: dict[str, Any] = {
            "email_id": email_id,
            "email_subject": data.get("subject") if isinstance(data.get("subject"), str) and data.get("subject") else None,
            "campaign_id": data.get("broadcast_id") or None,
            "template_id": data.get("template_id") or None,
            "message_id": data.get("message_id") or None,
        }
        traits: dict[str, Any] = {"email": address}
        when = event.get("created_at")
        if kind == "email.bounced":
            bounce = object_or_empty(data.get("bounce"))
            properties.update({
                "bounce_type": bounce.get("type"),
                "bounce_sub_type": bounce.get("subType"),
                "reason": bounce.get("message"),
                "diagnostic_code": bounce.get("diagnosticCode"),
            })
        elif kind == "email.clicked":
            click = data.get("click")
            if not isinstance(click, dict) or not isinstance(click.get("link"), str):
                raise InvalidPayload(f"{kind}: no data.click.link")
            properties["link_url"] = click["link"]
            traits.update(ip=click.get("ipAddress") or None, user_agent=click.get("userAgent") or None)
            when = click.get("timestamp") or when
        try:
            identity = rules.resolve(tags, address)
        except NoIdentity as error:
            raise InvalidPayload(f"{kind}: {error}") from None
        timestamp = timestamp_of(when, f"{kind}")
        message_id = ids.message_id(self.full_name(), content_id, address)
        return email_event(EVENTS[kind], identity, message_id, timestamp, properties, traits, kind)


def _address(kind: str, recipient: str) -> str:
    """The address in the ``data.to`` entry ("Name <addr@x.org>" -> "addr@x.org"), else InvalidPayload."""
    parsed = address(recipient)
    if parsed is None:
        raise InvalidPayload(f"{kind}: data.to is not one email address")
    return parsed


SOURCE = Resend
