"""Clerk webhooks -> Customer.io ``User Deleted``.

Clerk sends its webhooks through Svix: one JSON event per POST, ``{"data", "object": "event",
"type", "timestamp", "instance_id", "event_attributes"}``, signed with the Standard Webhooks
scheme (HMAC-SHA256 of ``<id>.<timestamp>.<body>`` with the ``whsec_`` signing secret) in the
``svix-id``, ``svix-timestamp`` and ``svix-signature`` headers.

- Webhooks overview and payload: https://clerk.com/docs/guides/development/webhooks/overview
  (source: clerk/clerk-docs docs/guides/development/webhooks/overview.mdx)
- Event schemas and examples: clerk/openapi-specs webhooks/2025-04-15.yml (``user.deleted``: data is
  a ``DeletedObject`` ``{object: "user", id, deleted: true, external_id?}``)
- Verification: Clerk's own ``verifyWebhook`` (clerk/javascript packages/backend) maps the
  ``svix-*`` headers onto ``webhook-*`` and verifies them with the ``standardwebhooks`` library;
  https://docs.svix.com/receiving/verifying-payloads/how-manual
- Retries: Svix retries non-2xx answers for about 27 h (https://docs.svix.com/retries) and keeps
  the same ``svix-id`` for every attempt.

Mapping (``type`` -> Customer.io event):

    user.deleted                          -> User Deleted   (userId <- data.id, see below)
    user.created, user.updated, session.*, organization.*, email.*, ... -> not translated, counted

Decisions:

- Signature: the ``standardwebhooks`` library computes the signature (it decodes the ``whsec_``
  key and formats ``v1,<base64>``). The timestamp window and the comparison are done here, because
  the library checks the timestamp against the wall clock with a fixed 5 minutes: this module checks
  it against the time AWS received the request, so a request kept in the DLQ keeps its verdict, and
  the window is ``CLERK_TOLERANCE_SECONDS`` (default 300, the Standard Webhooks default). Every
  space-separated ``v1,`` signature is tried with ``hmac.compare_digest`` (several appear while a
  secret is being rotated). ``webhook-*`` headers are accepted as well as ``svix-*``.
- ``userId`` is Clerk's user id (``data.id``, ``user_...``). Apps that identify people in
  Customer.io by their own id and store it as Clerk's ``external_id`` set
  ``CLERK_USER_ID_KEYS=external_id,id`` (first non-empty wins; ``external_id`` is in the
  ``user.deleted`` example of Clerk's spec). A deletion without any of them fails the request:
  it is never attributed to a guessed person.
- ``data.deleted`` must be ``true`` (Clerk's ``DeletedObject``); anything else is not a deletion
  this module understands and fails the request.
- ``messageId`` is the UUIDv5 of the ``svix-id`` header, unique per message and stable across
  Svix's retries; without it (only possible with CIOHOOKS_ALLOW_UNSIGNED) the canonical body is
  used. ``timestamp`` is the payload's ``timestamp`` (milliseconds per Clerk's docs; seconds in
  some examples: both are read).
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

from standardwebhooks.webhooks import Webhook

from ... import ids
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.actions import UserDeleted
from ...timestamps import BadTimestamp, parse_timestamp
from ..base import InvalidPayload, NotConfigured, Source, Translation, Unauthorized

log = logging.getLogger(__name__)

SECRET = "CLERK_SIGNING_SECRET"
DEFAULT_TOLERANCE_SECONDS = 300
# Clerk sends the Svix names; the Standard Webhooks names are the same scheme.
ID_HEADERS = ("svix-id", "webhook-id")
TIMESTAMP_HEADERS = ("svix-timestamp", "webhook-timestamp")
SIGNATURE_HEADERS = ("svix-signature", "webhook-signature")


def _first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    return next((lowered[n] for n in names if lowered.get(n)), None)


def _webhook(secret: str) -> Webhook:
    try:
        return Webhook(secret)
    except Exception:  # binascii.Error, EmptyWebhookSecretError: never repeat the value
        raise NotConfigured(f"{SECRET} is not a Standard Webhooks secret (whsec_<base64>)") from None


def verify(raw_body: bytes, headers: Mapping[str, str], secret: str, *, now: float, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> None:
    """Raise ``Unauthorized`` unless ``secret`` signed ``<id>.<timestamp>.<raw_body>`` within the window.

    ``now`` is unix seconds: the time the request was received.
    """
    webhook = _webhook(secret)
    msg_id, stamp, signatures = (_first_header(headers, names) for names in (ID_HEADERS, TIMESTAMP_HEADERS, SIGNATURE_HEADERS))
    if not (msg_id and stamp and signatures):
        raise Unauthorized("missing svix-id, svix-timestamp or svix-signature header")
    if not (stamp.isascii() and stamp.isdigit()):
        raise Unauthorized("svix-timestamp is not unix seconds")
    if abs(now - int(stamp)) > tolerance_seconds:
        raise Unauthorized(f"svix-timestamp is more than {tolerance_seconds} s from the time of receipt")
    try:
        body = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unauthorized("body is not UTF-8, so it cannot be what Clerk signed") from None
    expected = base64.b64decode(webhook.sign(msg_id, datetime.fromtimestamp(int(stamp), UTC), body).partition(",")[2])
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            presented = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, presented):
            return
    raise Unauthorized("no svix-signature matches")


def sign(secret: str, raw_body: bytes, msg_id: str, timestamp: int) -> dict[str, str]:
    """The three headers Clerk (Svix) sends with ``raw_body``."""
    signature = _webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), raw_body.decode("utf-8"))
    return {"svix-id": msg_id, "svix-timestamp": str(timestamp), "svix-signature": signature}


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidPayload(f"body is not JSON ({error.__class__.__name__})") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not event["type"]:
        raise InvalidPayload("body is not a Clerk event (an object with a type)")
    return event


class Clerk(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "clerk"
    docs_url: ClassVar[str] = "https://clerk.com/docs/guides/development/webhooks/overview"
    secret_name: ClassVar[str | None] = SECRET

    def authenticate(self, request: WebhookRequest) -> None:
        secret = self.settings.secret(SECRET)
        if secret is None:
            if self.settings.get_bool("ALLOW_UNSIGNED"):
                log.warning(
                    "SECURITY: accepting an UNSIGNED Clerk request: %s is not configured and "
                    "CIOHOOKS_ALLOW_UNSIGNED is on. Anyone can post events to this endpoint.",
                    SECRET,
                )
                return
            raise NotConfigured(f"secret {SECRET} is not configured, so every request is refused")
        tolerance = self.settings.get_int("CLERK_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
        if tolerance < 0:
            raise NotConfigured("CLERK_TOLERANCE_SECONDS must not be negative")
        verify(request.body, request.headers, secret, now=request.received_at.timestamp(), tolerance_seconds=tolerance)

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        # A sample's own svix-id (its .meta.json) is kept; otherwise one is derived from the body,
        # so generated events are reproducible.
        msg_id = _first_header(request.headers, ID_HEADERS) or "msg_" + hashlib.sha256(request.body).hexdigest()[:27]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in (*ID_HEADERS, *TIMESTAMP_HEADERS, *SIGNATURE_HEADERS)}
        headers.update(sign(key, request.body, msg_id, int(request.received_at.timestamp())))
        return dataclasses.replace(request, headers=headers)

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        event = parse_event(request.body)
        if event["type"] != "user.deleted":
            translation.ignored[event["type"][:64]] += 1
            return translation
        data = event.get("data")
        if not isinstance(data, dict) or data.get("deleted") is not True:
            raise InvalidPayload("user.deleted: data is not a deleted object (deleted: true)")
        rules = IdentityRules.from_settings(self.settings, "CLERK", default_keys=("id",))
        try:
            identity = rules.resolve(data, None)
        except NoIdentity:
            raise InvalidPayload(f"user.deleted: no user id in {', '.join(rules.user_id_keys)}") from None
        svix_id = _first_header(request.headers, ID_HEADERS)
        message_id = ids.message_id(self.full_name(), svix_id) if svix_id else ids.message_id_of_content(self.full_name(), event)
        try:
            timestamp = parse_timestamp(event["timestamp"]) if event.get("timestamp") is not None else None
        except BadTimestamp as error:
            raise InvalidPayload(f"user.deleted: timestamp: {error}") from None
        translation.events.append(UserDeleted(**identity, messageId=message_id, timestamp=timestamp))
        return translation


SOURCE = Clerk
