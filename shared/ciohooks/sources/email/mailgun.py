"""Mailgun webhooks (the current JSON "webhooks" API) -> Customer.io email semantic events.

Mailgun POSTs one event per request, as JSON: ``{"signature": {timestamp, token, signature},
"event-data": {...}}``. The signature is HMAC-SHA256(webhook signing key, timestamp + token), in
hex. It does NOT cover the body (Mailgun signs only timestamp and token).

- Webhooks: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhooks
- Payloads: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads
- Signing: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
- Retries: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-retries
- Bot opens: https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/open-click-bot-detect

Mapping (``event-data.event`` -> Customer.io event):

    delivered                                  -> Email Delivered
    opened                                     -> Email Opened        (+ machine_open, bot when client-info.bot is set)
    clicked                                    -> Email Link Clicked  (link_url <- url; + machine_open, bot when set)
    complained                                 -> Email Marked as Spam
    unsubscribed                               -> Email Unsubscribed
    failed, severity permanent                 -> Email Bounced       (reason, severity, bounce_code, bounce_message)
    failed, permanent, reason suppress-*       -> ignored "failed:suppress-bounce" etc.: Mailgun did not send
                                                  (the address was already suppressed by an earlier bounce,
                                                  unsubscribe or complaint, which was reported then)
    failed, permanent, reason espblock         -> a block: ignored "failed:espblock" unless MAILGUN_BLOCKS=bounce
    failed, severity temporary                 -> a soft bounce: ignored "failed:temporary" unless
                                                  MAILGUN_SOFT_BOUNCES=bounce (Mailgun retries it)
    accepted, rejected, stored, list_member_uploaded, list_member_upload_error, list_uploaded
                                               -> ignored (``ignored_types``, each with its reason)
    anything else                              -> unknown: kept (the request goes to the DLQ for a later replay)

The table in docs/sources/mailgun.md is checked against ``EVENTS`` and ``ignored_types``.

Policy (``EmailPolicy.from_settings(settings, "MAILGUN")``, see ``_policy.py``):

- SOFT_BOUNCES: ``failed`` with ``severity: temporary`` (Mailgun retries those for up to 8 h).
- BLOCKS: ``failed`` with ``reason: espblock`` and ``severity: permanent``. Mailgun's stats API
  lists espblock under temporary failures; a temporary one follows SOFT_BOUNCES like any other.
- MACHINE_OPENS: ``opened`` with a non-empty ``client-info.bot`` (``apple`` = Apple Mail Privacy
  Protection, ``gmail``, ``generic``). Kept by default, flagged ``machine_open: true`` with ``bot``
  (which kind) in the properties; ``drop``
  counts them as ``opened:bot``. Bot clicks are always kept (flagged the same way): the policy is
  about opens.
- OPENS=first cannot apply: Mailgun sends no first/unique-open flag. Every open is translated.
- GROUP_UNSUBSCRIBES cannot apply: Mailgun has domain, tag and mailing-list unsubscribes, but the
  documented payload does not say which level an ``unsubscribed`` event was. All are Email
  Unsubscribed.

Decisions:

- ``email_id`` is ``message.headers.message-id`` with surrounding ``<>`` and whitespace removed:
  the id Mailgun's send API returns (``"id": "<2011...@samples.mailgun.org>"``) and the one every
  event of that message carries.
- ``messageId`` is the UUIDv5 of ``event-data.id`` qualified by the event type and the event's own
  ``timestamp`` exactly as sent: Mailgun only promises its event ids to be unique within a day (the
  Events API), and its test webhooks reuse one id for opened, clicked and unsubscribed. Without an
  id, the UUIDv5 of the canonical event-data.
- Identity: ``IdentityRules.from_settings(settings, "MAILGUN")`` over ``user-variables`` (the
  ``v:`` variables of the send; default key ``user_id``), else ``recipient`` as MAILGUN_EMAIL_AS
  says. The address also goes to ``context.traits.email``; ``ip`` and ``client-info.user-agent``
  go to traits on engagement events (opened, clicked, unsubscribed, complained) when sent.
- Subject: ``message.headers.subject`` becomes ``email_subject`` when Mailgun sends it.
- Several signing keys may be configured, comma-separated (rotation). A subaccount event's
  ``parent-signature`` (made with the primary account's key) is accepted too.

Timestamps and replays (MAILGUN_TOLERANCE_SECONDS, default 32400 s = 9 h):

- Mailgun retries a failed delivery for 8 hours (5, 10, 15 min, 1, 2, 4 h) and a retry carries the
  ORIGINAL signature object, timestamp included (Mailgun's docs do not say so; Hookdeck's Mailgun
  reference and PostHog's Mailgun source both observed it). A 5-minute window would therefore turn
  every retry after an outage (SQS or this function down) into a 401 and lose the event. The
  window covers the whole retry schedule; a signature more than 300 s in the future is refused.
  Mailgun itself warns not to be "too aggressive with this check".
- The body is not signed, so whoever sees one signed request can attach its signature to another
  body. Defence: the shared replay store (``ciohooks.replay_store``: DynamoDB on AWS, shared by
  every container; memory locally) remembers each token with a digest of its canonical event-data
  until the signature's timestamp leaves the window. The same token with DIFFERENT event-data is
  refused (401), on any container. The same token with the SAME event-data is accepted: it is
  exactly what a Mailgun retry looks like, and it is harmless because its messageId is the same, so
  downstream de-duplication drops it. A store that cannot be reached answers 503 (Mailgun retries).

Answer codes (Mailgun: 200 = done, 406 = rejected and never retried, anything else = retry):

- 200 for queued, ignored, and authentic-but-untranslatable requests (kept whole in the DLQ).
- 406 only for an AUTHENTIC request that is not an event webhook at all: a form post (a Mailgun
  route's forward() of an inbound email, or a legacy webhook) or JSON without an ``event-data``
  object. Retrying it could never succeed and it holds no event.
- Never 406 for anything transient or fixable: a bad or stale signature is 401 and no configured
  key is 503, so Mailgun keeps retrying for 8 hours while the operator fixes the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from typing import Any, ClassVar, Mapping
from urllib.parse import parse_qsl

from ... import ids, replay_store
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
from .._translation import email_event, load_json, not_mapped, object_or_empty, text_or_none, timestamp_of
from ..base import InvalidPayload, Reply, Source, Translation, Unauthorized
from ._policy import BLOCKED, MACHINE_OPEN_DROPPED, MACHINE_OPEN_PROPERTY, NEVER_SENT, NOT_YET_SENT, SOFT_BOUNCE, EmailPolicy

KEY_SECRET = "MAILGUN_SIGNING_KEY"
DEFAULT_TOLERANCE_SECONDS = 9 * 3600  # Mailgun's 8 h retry schedule, and some slack
FUTURE_SKEW_SECONDS = 300

EVENTS: dict[str, type[EmailEvent]] = {
    "delivered": EmailDelivered,
    "opened": EmailOpened,
    "clicked": EmailLinkClicked,
    "complained": EmailMarkedAsSpam,
    "unsubscribed": EmailUnsubscribed,
    "failed": EmailBounced,
}
ENGAGEMENT = frozenset({"opened", "clicked", "unsubscribed", "complained"})
# Permanent failures where Mailgun did not even try: the address was suppressed before.
SUPPRESSED_REASONS = frozenset({"suppress-bounce", "suppress-unsubscribe", "suppress-complaint"})


# ---- authentication ------------------------------------------------------------------------------


def expected_signature(key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature of ``timestamp + token`` (hex HMAC-SHA256)."""
    return hmac.new(key.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256).hexdigest()


def signature_block(request: WebhookRequest) -> dict[str, str] | None:
    """The ``{timestamp, token, signature[, parent-signature]}`` of a JSON webhook or a form post."""
    if request.content_type in ("application/x-www-form-urlencoded",):
        try:
            fields = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return None
        block: Any = fields
    else:
        try:
            document = loads_json(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        block = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(block, dict):
        return None
    found = {}
    for name in ("timestamp", "token", "signature", "parent-signature"):
        value = block.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value:
            found[name] = value
    return found if {"timestamp", "token", "signature"} <= found.keys() else None


def verify(
    block: Mapping[str, str],
    keys: list[str],
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise ``Unauthorized`` unless one of ``keys`` signed ``timestamp + token`` within the window."""
    timestamp = block["timestamp"]
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Unauthorized("Mailgun signature timestamp is not unix seconds")
    age = now - int(timestamp)
    if age > tolerance_seconds:
        raise Unauthorized(f"Mailgun signature is more than {tolerance_seconds} s old")
    if age < -FUTURE_SKEW_SECONDS:
        raise Unauthorized(f"Mailgun signature timestamp is more than {FUTURE_SKEW_SECONDS} s in the future")
    offered = [block["signature"], *([block["parent-signature"]] if "parent-signature" in block else [])]
    for key in keys:
        expected = expected_signature(key, timestamp, block["token"])
        # Every comparison runs, so the time taken does not say which one matched.
        if any(hmac.compare_digest(expected.encode(), candidate.strip().lower().encode()) for candidate in offered):
            return
    raise Unauthorized("Mailgun signature does not match")


def signing_token(key: str, timestamp: str, body: bytes) -> str:
    """A 50-character token like Mailgun's, derived from the request so generated files are stable."""
    return hmac.new(key.encode("utf-8"), b"token:" + timestamp.encode("ascii") + b":" + body, hashlib.sha256).hexdigest()[:50]


def payload_digest(request: WebhookRequest) -> str:
    """SHA-256 of the canonical event-data (or of the raw body when it is not a JSON webhook)."""
    try:
        document = loads_json(request.body)
        content: Any = document.get("event-data") if isinstance(document, dict) else document
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # not JSON, or nested too deep to re-serialise: the raw bytes
        canonical = request.body
    return replay_store.digest_of(canonical)


# ---- the source ----------------------------------------------------------------------------------


class Mailgun(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "mailgun"
    docs_url: ClassVar[str] = "https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhooks"
    secret_name: ClassVar[str | None] = KEY_SECRET
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    ignored_types: ClassVar[Mapping[str, str]] = {
        "accepted": NOT_YET_SENT,
        "rejected": "Mailgun refused the send request: " + NEVER_SENT,
        "stored": "an inbound message stored by a route, not mail you sent",
        "list_member_uploaded": "a mailing-list upload, about no message",
        "list_member_upload_error": "a mailing-list upload, about no message",
        "list_uploaded": "a mailing-list upload, about no message",
        "failed:temporary": SOFT_BOUNCE + " (Mailgun retries it for up to 8 h)",
        "failed:espblock": BLOCKED,
        **{f"failed:{reason}": "Mailgun did not send it: the address was suppressed by an earlier event, reported then; " + NEVER_SENT for reason in sorted(SUPPRESSED_REASONS)},
        "opened:bot": MACHINE_OPEN_DROPPED,
    }

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self.replays = replay_store.guard(self)

        self.policy = EmailPolicy.from_settings(self.settings, "MAILGUN")
        self.rules = IdentityRules.from_settings(self.settings, "MAILGUN")

    def authenticate(self, request: WebhookRequest) -> None:
        if (configured := self.secret_or_open(KEY_SECRET)) is None:
            return
        keys = credentials.several(KEY_SECRET, configured)
        tolerance = self.tolerance_seconds("MAILGUN_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
        block = signature_block(request)
        if block is None:
            raise Unauthorized("missing Mailgun signature (timestamp, token, signature)")
        verify(block, keys, now=request.received_at.timestamp(), tolerance_seconds=tolerance)
        # The token's signature is refused once its timestamp leaves the window: keep it that long.
        self.replays.check(
            block["token"], payload_digest(request), expires_at=int(block["timestamp"]) + tolerance, now=request.received_at.timestamp(), what="Mailgun token"
        )

    def reply_after_accept(self, request: WebhookRequest) -> Reply | None:
        # 406: authentic, but no event webhook; Mailgun must not retry what can never succeed.
        if request.content_type == "application/x-www-form-urlencoded":
            return Reply(406, "not a Mailgun event webhook (a form post: route forward or legacy webhook)")
        try:
            document = loads_json(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None  # the translation fails whole and the request is kept in the DLQ
        if isinstance(document, dict) and not isinstance(document.get("event-data"), dict):
            return Reply(406, "not a Mailgun event webhook (no event-data object)")
        return None

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """Replace the JSON body's ``signature`` object with one made with ``key`` at ``received_at``."""
        key = key.split(",")[0].strip()
        document = json.loads(request.body)
        if not isinstance(document, dict):
            raise ValueError("a Mailgun webhook body is a JSON object")
        timestamp = str(int(request.received_at.timestamp()))
        unsigned = json.dumps({k: v for k, v in document.items() if k != "signature"}, sort_keys=True).encode("utf-8")
        token = signing_token(key, timestamp, unsigned)
        signature = {"token": token, "timestamp": timestamp, "signature": expected_signature(key, timestamp, token)}
        body = json.dumps({"signature": signature, **{k: v for k, v in document.items() if k != "signature"}}, indent=4, ensure_ascii=False)
        return dataclasses.replace(request, body=(body + "\n").encode("utf-8"))

    def translate(self, request: WebhookRequest) -> Translation:
        document = load_json(request.body)
        if not isinstance(document, dict) or not isinstance(document.get("event-data"), dict):
            raise InvalidPayload("body is not a Mailgun webhook (no event-data object)")
        data = document["event-data"]
        kind = data.get("event")
        if not isinstance(kind, str) or not kind:
            raise InvalidPayload("event-data has no event type")
        translation = Translation()
        if kind not in EVENTS:
            not_mapped(translation, kind, self.ignored_types)
        elif (skipped := self._skipped(kind, data, self.policy)) is not None:
            translation.ignored[skipped] += 1
        else:
            translation.events.append(self._event(kind, data))
        return translation

    def _skipped(self, kind: str, data: Mapping[str, Any], policy: EmailPolicy) -> str | None:
        """Why this event is deliberately not translated (the ignored-count key), or None."""
        if kind == "failed":
            severity, reason = data.get("severity"), data.get("reason")
            if severity == "temporary":
                return None if policy.soft_bounces_are_bounces else "failed:temporary"
            if severity != "permanent":
                raise InvalidPayload("event 0 (failed): severity is neither permanent nor temporary")
            if reason in SUPPRESSED_REASONS:
                return f"failed:{reason}"
            if reason == "espblock" and not policy.blocks_are_bounces:
                return "failed:espblock"
        if kind == "opened" and _bot(data) and policy.drop_machine_opens:
            return "opened:bot"
        return None

    def _event(self, kind: str, data: Mapping[str, Any]) -> EmailEvent:
        where = f"event 0 ({kind})"
        recipient = address(data.get("recipient"))
        if recipient is None:
            raise InvalidPayload(f"{where}: no address in recipient")
        headers = object_or_empty(object_or_empty(data.get("message")).get("headers"))
        message_id = headers.get("message-id")
        email_id = message_id.strip().removeprefix("<").removesuffix(">").strip() if isinstance(message_id, str) else ""
        if not email_id:
            raise InvalidPayload(f"{where}: no message.headers.message-id, so no email_id")
        timestamp = timestamp_of(data.get("timestamp"), f"{where}")

        properties: dict[str, Any] = {"email_id": email_id, "email_subject": text_or_none(headers.get("subject"))}
        client = object_or_empty(data.get("client-info"))
        if kind == "clicked":
            properties["link_url"] = text_or_none(data.get("url"))
        if kind in ("opened", "clicked") and (bot := _bot(data)) is not None:
            properties.update({MACHINE_OPEN_PROPERTY: True, "bot": bot})
        if kind == "failed":
            status = object_or_empty(data.get("delivery-status"))
            properties.update(
                reason=text_or_none(data.get("reason")),
                severity=text_or_none(data.get("severity")),
                bounce_code=status.get("code") if isinstance(status.get("code"), int) else None,
                bounce_message=text_or_none(status.get("description")) or text_or_none(status.get("message")),
            )

        traits: dict[str, Any] = {"email": recipient}
        if kind in ENGAGEMENT:
            traits.update(ip=text_or_none(data.get("ip")), user_agent=text_or_none(client.get("user-agent")))
        variables = data.get("user-variables")
        try:
            identity = self.rules.resolve(variables if isinstance(variables, dict) else {}, recipient)
        except NoIdentity as error:
            raise InvalidPayload(f"{where}: {error}") from None
        event_id = data.get("id")
        messageid = (
            ids.message_id(self.full_name(), event_id, kind, str(data.get("timestamp")))
            if isinstance(event_id, str) and event_id
            else ids.message_id_of_content(self.full_name(), data)
        )
        return email_event(EVENTS[kind], identity, messageid, timestamp, properties, traits, where)


def _bot(data: Mapping[str, Any]) -> str | None:
    return text_or_none(object_or_empty(data.get("client-info")).get("bot"))


SOURCE = Mailgun
