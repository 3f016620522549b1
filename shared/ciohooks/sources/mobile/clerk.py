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

Mapping: ``EVENTS`` (``user.deleted`` -> User Deleted, userId <- data.id, see below) and
``IGNORED``: the other 44 event types of Clerk's webhook spec (clerk/openapi-specs
webhooks/2025-04-15.yml ``x-webhooks``, commit 7987d1b), with the reason; docs/sources/clerk.md
shows the table, checked against both. A type the spec does not list is unknown and kept.

Decisions:

- Signature: ``_standard_webhooks.py`` verifies (the ``standardwebhooks`` library computes the
  signature; it decodes the ``whsec_`` key and formats ``v1,<base64>``). The timestamp window is
  checked against the time AWS received the request, not the wall clock as the library's own
  ``verify`` would, so a request kept in the DLQ keeps its verdict, and the window is
  ``CLERK_TOLERANCE_SECONDS`` (default 300, the Standard Webhooks default). Every space-separated
  ``v1,`` signature is tried with ``hmac.compare_digest`` (several appear while a secret is being
  rotated; ``CLERK_SIGNING_SECRET`` may also hold several, separated by spaces or commas, each
  ``whsec_`` + base64 of 24 bytes or more, as Svix's are). ``webhook-*`` headers are accepted as
  well as ``svix-*``.
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

from typing import Any, ClassVar, Mapping

from ... import ids, replay_store
from ...config import Settings
from ...identity import IdentityRules, NoIdentity
from ...request import WebhookRequest
from ...semantic.actions import UserDeleted
from .. import _standard_webhooks as standard_webhooks
from .._translation import build, load_json, optional_timestamp
from ..base import InvalidPayload, Source, Translation

SECRET = "CLERK_SIGNING_SECRET"
USER_DELETED = "user.deleted"
_REASONS = {
    "user": "a profile change in Clerk: your app's identify calls tell Customer.io about people",
    "session": "a sign-in session in Clerk: no Customer.io semantic event",
    "email": "a message Clerk itself sends (verification, magic link): not one of yours",
    "sms": "a message Clerk itself sends (verification code): not one of yours",
    "organization": "Clerk organizations: no Customer.io semantic event",
    "organizationDomain": "Clerk organizations: no Customer.io semantic event",
    "organizationInvitation": "Clerk organizations: no Customer.io semantic event",
    "organizationMembership": "Clerk organizations: no Customer.io semantic event",
    "role": "Clerk access control: no Customer.io semantic event",
    "permission": "Clerk access control: no Customer.io semantic event",
    "waitlistEntry": "a Clerk waitlist entry: no Customer.io semantic event",
    "subscription": "Clerk billing: no Customer.io semantic event",
    "subscriptionItem": "Clerk billing: no Customer.io semantic event",
    "paymentAttempt": "Clerk billing: no Customer.io semantic event",
}
# The event types of clerk/openapi-specs webhooks/2025-04-15.yml (x-webhooks) but user.deleted.
DOCUMENTED_TYPES = (
    "email.created", "organization.created", "organization.deleted", "organization.updated",
    "organizationDomain.created", "organizationDomain.deleted", "organizationDomain.updated",
    "organizationInvitation.accepted", "organizationInvitation.created", "organizationInvitation.revoked",
    "organizationMembership.created", "organizationMembership.deleted", "organizationMembership.updated",
    "paymentAttempt.created", "paymentAttempt.updated", "permission.created", "permission.deleted",
    "permission.updated", "role.created", "role.deleted", "role.updated", "session.created", "session.ended",
    "session.pending", "session.removed", "session.revoked", "sms.created", "subscription.active",
    "subscription.created", "subscription.pastDue", "subscription.updated", "subscriptionItem.abandoned",
    "subscriptionItem.active", "subscriptionItem.canceled", "subscriptionItem.ended",
    "subscriptionItem.freeTrialEnding", "subscriptionItem.incomplete", "subscriptionItem.pastDue",
    "subscriptionItem.upcoming", "subscriptionItem.updated", "user.created", "user.updated",
    "waitlistEntry.created", "waitlistEntry.updated",
)  # fmt: skip
IGNORED: dict[str, str] = {kind: _REASONS[kind.partition(".")[0]] for kind in DOCUMENTED_TYPES}
DEFAULT_TOLERANCE_SECONDS = 300
ID_HEADERS = tuple(f"{prefix}-id" for prefix in standard_webhooks.SVIX)  # svix-id, webhook-id


def parse_event(body: bytes) -> dict[str, Any]:
    event = load_json(body)
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not event["type"]:
        raise InvalidPayload("body is not a Clerk event (an object with a type)")
    return event


class Clerk(Source):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "clerk"
    docs_url: ClassVar[str] = "https://clerk.com/docs/guides/development/webhooks/overview"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    mapped_types: ClassVar[Mapping[str, str]] = {USER_DELETED: UserDeleted.name}

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.tolerance = self.tolerance_seconds("CLERK_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
        self.rules = IdentityRules.from_settings(self.settings, "CLERK", ("id",))

    def authenticate(self, request: WebhookRequest) -> None:
        if (secret := self.secret_or_open(SECRET)) is not None:
            standard_webhooks.verify(request, secret, secret_name=SECRET, tolerance_seconds=self.tolerance, prefixes=standard_webhooks.SVIX, replays=replay_store.guard(self))

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return standard_webhooks.sign(request, key, prefixes=standard_webhooks.SVIX, id_length=27)

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        event = parse_event(request.body)
        kind = event["type"]
        if kind != USER_DELETED:
            (translation.ignored if kind in IGNORED else translation.unknown)[kind[:64]] += 1
            return translation
        with translation.item(USER_DELETED):
            translation.events.append(self._user_deleted(request, event))
        return translation

    def _user_deleted(self, request: WebhookRequest, event: dict[str, Any]) -> UserDeleted:
        data = event.get("data")
        if not isinstance(data, dict) or data.get("deleted") is not True:
            raise InvalidPayload("user.deleted: data is not a deleted object (deleted: true)")
        try:
            identity = self.rules.resolve(data, None)
        except NoIdentity:
            raise InvalidPayload(f"user.deleted: no user id in {', '.join(self.rules.user_id_keys)}") from None
        svix_id = next((request.header(name) for name in ID_HEADERS if request.header(name)), None)
        message_id = ids.message_id(self.full_name(), svix_id) if svix_id else ids.message_id_of_content(self.full_name(), event)
        timestamp = optional_timestamp(event.get("timestamp"), "user.deleted: timestamp")
        return build(UserDeleted, {**identity, "messageId": message_id, "timestamp": timestamp}, USER_DELETED)


SOURCE = Clerk
