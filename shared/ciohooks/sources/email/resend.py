"""Resend webhooks -> Customer.io email semantic events.

- Event types and payloads: https://resend.com/docs/webhooks/event-types and the per-event pages
  https://resend.com/docs/webhooks/emails/<event> (sent, delivered, delivery-delayed, bounced, ...)
- Verifying: https://resend.com/docs/webhooks/verify-webhooks-requests (Svix, i.e. Standard Webhooks:
  https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
- Retries: Svix retries any non-2xx answer (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).

Resend POSTs one JSON event per request: ``{"type", "created_at", "data": {...}}``.

Mapping (Resend ``type`` -> Customer.io event):

    email.delivered         -> Email Delivered      one per address in data.to
    email.bounced           -> Email Bounced        one per address in data.to; bounce.type Transient or
                                                    Temporary is a soft bounce (RESEND_SOFT_BOUNCES /
                                                    EMAIL_SOFT_BOUNCES, default: ignored)
    email.complained        -> Email Marked as Spam one per address in data.to
    email.opened            -> Email Opened         the recipient: the only address in data.to
    email.clicked           -> Email Link Clicked   link_url <- click.link; ip/user agent from click
    email.sent, email.scheduled, email.delivery_delayed, email.failed, email.suppressed,
    email.received, contact.*, domain.*, anything else -> not translated, counted by type

Authentication (Standard Webhooks, HMAC-SHA256 over ``<id>.<timestamp>.<raw body>`` with the
base64 key after ``whsec_``): Resend sends the headers ``svix-id``, ``svix-timestamp`` and
``svix-signature`` (space-separated ``v1,<base64>`` entries); the ``webhook-*`` names of the
standard are read too. The HMAC is computed by the ``standardwebhooks`` library (``Webhook.sign``)
and every ``v1`` entry is compared with ``hmac.compare_digest``. The library's own ``verify`` is not
used because it checks the timestamp against the wall clock, while ingest must check it against the
time AWS received the request (so a stored request keeps the verdict it had), and it raises bare
errors on malformed headers. Tolerance: ``RESEND_TOLERANCE_SECONDS``, default 300 (the standard's
and Svix's 5 minutes). Secret: ``RESEND_WEBHOOK_SECRET`` (the endpoint's ``whsec_...`` signing
secret); without it every request is refused (503) unless ``CIOHOOKS_ALLOW_UNSIGNED``.

Replays: a request replayed within the tolerance (same ``svix-id``, same body) verifies again. That
is harmless: Svix resends a message with the same body, and messageIds are derived from the body,
so the replay produces the same messageIds and Customer.io sees the same events again.

Decisions:

- ``email_id`` is ``data.email_id``, the id Resend's Send API returns. (``data.message_id``, when
  sent, is the RFC Message-ID header; it is passed on as ``message_id``.)
- ``messageId``: UUIDv5 of the event's canonical JSON and the recipient. ``svix-id`` is not used:
  it is a header, so a payload translated on its own (CLI, a replay without headers) would get
  another id; the body is identical on every Svix retry anyway.
- ``to`` is "Array of impacted recipient email addresses": delivery, bounce and complaint events
  become one event per address. An open or click names no particular recipient, so it is
  attributed only when ``to`` has exactly one address; otherwise it is counted as
  ``<type>:several_recipients`` rather than attributed to a guess.
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

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any, ClassVar, Mapping

from pydantic import ValidationError
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from ... import ids
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic import Context, Traits
from ...semantic.email import (
    EmailBounced,
    EmailDelivered,
    EmailEvent,
    EmailLinkClicked,
    EmailMarkedAsSpam,
    EmailOpened,
)
from ...timestamps import BadTimestamp, parse_timestamp
from ..base import InvalidPayload, NotConfigured, Source, Translation, Unauthorized
from ._policy import EmailPolicy

log = logging.getLogger(__name__)

SECRET = "RESEND_WEBHOOK_SECRET"
DEFAULT_TOLERANCE_SECONDS = 300
# Resend (Svix) header names first, then the Standard Webhooks names the library expects.
HEADER_NAMES = {
    "id": ("svix-id", "webhook-id"),
    "timestamp": ("svix-timestamp", "webhook-timestamp"),
    "signature": ("svix-signature", "webhook-signature"),
}
EVENTS: dict[str, type[EmailEvent]] = {
    "email.delivered": EmailDelivered,
    "email.bounced": EmailBounced,
    "email.complained": EmailMarkedAsSpam,
    "email.opened": EmailOpened,
    "email.clicked": EmailLinkClicked,
}
PER_RECIPIENT = frozenset({"email.delivered", "email.bounced", "email.complained"})
SOFT_BOUNCE_TYPES = frozenset({"Transient", "Temporary"})


# ---- authentication ------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], field: str) -> str | None:
    lowered = {name.lower(): value for name, value in headers.items()}
    return next((lowered[name] for name in HEADER_NAMES[field] if lowered.get(name)), None)


def verify(
    raw_body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float,
) -> None:
    """``Unauthorized`` unless a ``v1`` signature matches HMAC(secret, id.timestamp.body) and the
    timestamp is within ``tolerance_seconds`` of ``now`` (unix seconds); ``NotConfigured`` for a
    secret that is not ``whsec_`` + base64."""
    msg_id, timestamp, signatures = (_header(headers, f) for f in ("id", "timestamp", "signature"))
    if not msg_id or not timestamp or not signatures:
        raise Unauthorized("missing svix-id, svix-timestamp or svix-signature header")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Unauthorized("svix-timestamp is not unix seconds")
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise Unauthorized(f"svix-timestamp is more than {tolerance_seconds} s from now")
    try:
        body = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unauthorized("body is not UTF-8") from None
    try:
        webhook = Webhook(secret)
    except (EmptyWebhookSecretError, binascii.Error, ValueError):
        raise NotConfigured(f"{SECRET} is not a whsec_ base64 secret") from None
    expected = base64.b64decode(webhook.sign(msg_id, datetime.fromtimestamp(int(timestamp), UTC), body).split(",", 1)[1])
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return
    raise Unauthorized("svix-signature does not match")


def sign(secret: str, raw_body: bytes, timestamp: int, msg_id: str | None = None) -> dict[str, str]:
    """The Svix headers Resend would send for ``raw_body`` signed with ``secret`` (tests, samples)."""
    msg_id = msg_id or "msg_" + hashlib.sha256(raw_body).hexdigest()[:27]
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), raw_body.decode("utf-8"))
    return {"svix-id": msg_id, "svix-timestamp": str(timestamp), "svix-signature": signature}


# ---- payload -------------------------------------------------------------------------------------


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidPayload(f"body is not JSON ({error.__class__.__name__})") from None
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

    def authenticate(self, request: WebhookRequest) -> None:
        secret = self.settings.secret(SECRET)
        if secret is None:
            if self.settings.get_bool("ALLOW_UNSIGNED"):
                log.warning(
                    "SECURITY: accepting an UNSIGNED Resend request: %s is not configured and "
                    "CIOHOOKS_ALLOW_UNSIGNED is on. Anyone can post events to this endpoint.",
                    SECRET,
                )
                return
            raise NotConfigured(f"secret {SECRET} is not configured, so every request is refused")
        tolerance = self.settings.get_int("RESEND_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
        if tolerance < 0:
            raise NotConfigured("RESEND_TOLERANCE_SECONDS must not be negative")
        verify(request.body, request.headers, secret, tolerance_seconds=tolerance, now=request.received_at.timestamp())

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        existing = _header(request.headers, "id")
        headers = {**request.headers, **sign(key, request.body, int(request.received_at.timestamp()), existing)}
        return dataclasses.replace(request, headers=headers)

    def translate(self, request: WebhookRequest) -> Translation:
        event = parse_event(request.body)
        kind = event["type"]
        translation = Translation()
        if kind not in EVENTS:
            translation.ignored[kind[:64]] += 1
            return translation
        data = event.get("data")
        if not isinstance(data, dict):
            raise InvalidPayload(f"{kind}: no data object")
        recipients = data.get("to")
        if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) and r for r in recipients):
            raise InvalidPayload(f"{kind}: data.to is not a list of addresses")
        if kind == "email.bounced":
            bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
            if bounce.get("type") in SOFT_BOUNCE_TYPES and not EmailPolicy.from_settings(self.settings, "RESEND").soft_bounces_are_bounces:
                translation.ignored[f"{kind}:{bounce['type']}"] += 1
                return translation
        if kind not in PER_RECIPIENT and len(recipients) > 1:
            translation.ignored[f"{kind}:several_recipients"] += 1
            return translation
        for address in dict.fromkeys(recipients):
            translation.events.append(self._event(kind, event, data, address))
        return translation

    def _event(self, kind: str, event: Mapping[str, Any], data: Mapping[str, Any], address: str) -> EmailEvent:
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
        traits = Traits(email=address)
        when = event.get("created_at")
        if kind == "email.bounced":
            bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
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
            traits = Traits(email=address, ip=click.get("ipAddress") or None, user_agent=click.get("userAgent") or None)
            when = click.get("timestamp") or when
        try:
            identity = IdentityRules.from_settings(self.settings, "RESEND").resolve(tags, address)
        except NoIdentity as error:
            raise InvalidPayload(f"{kind}: {error}") from None
        try:
            timestamp = parse_timestamp(when)
        except BadTimestamp as error:
            raise InvalidPayload(f"{kind}: {error}") from None
        semantic = EVENTS[kind]
        properties_model = semantic.model_fields["properties"].annotation
        try:
            return semantic(
                **identity,
                messageId=ids.message_id(self.full_name(), ids.message_id_of_content(self.full_name(), event), address.lower()),
                timestamp=timestamp,
                properties=properties_model(**{k: v for k, v in properties.items() if v is not None}),
                context=Context(traits=traits),
            )
        except ValidationError as error:
            problems = dict.fromkeys(f"{'.'.join(str(p) for p in e['loc']) or 'event'} ({e['type']})" for e in error.errors())
            raise InvalidPayload(f"{kind}: invalid " + ", ".join(problems)) from None


SOURCE = Resend
