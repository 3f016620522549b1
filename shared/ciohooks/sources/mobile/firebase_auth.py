"""Firebase Authentication user events, forwarded as CloudEvents -> Customer.io ``User Deleted``.

Firebase does not POST to arbitrary URLs: its Auth events reach a Cloud Function (or an Eventarc
trigger). That function forwards the event it received here unchanged, with a shared bearer token
(``Authorization: Bearer <FIREBASE_AUTH_TOKEN>``). Three shapes are read:

- a CloudEvent in *structured* mode: ``application/cloudevents+json``, the body holds
  ``specversion``, ``type``, ``source``, ``id``, ``time`` and ``data`` (also accepted with any JSON
  content type when the body has ``specversion``, and as a ``cloudevents-batch+json`` array);
- a CloudEvent in *binary* mode: the attributes in ``ce-*`` headers, the body is ``data``;
- the legacy background-function event: ``{data, eventId, eventType, resource, timestamp}``, or
  the same attributes under ``context`` (1st gen functions).

Sources:
- Event types and data: googleapis/google-cloudevents proto/google/events/firebase/auth/v1/
  events.proto (``google.firebase.auth.user.v1.created`` / ``.deleted``, data ``AuthEventData``
  with ``uid``, ``email``, ``metadata``, ``providerData``, ...) and v2/events.proto
  (``google.firebase.auth.user.v2.*``: the user is in ``value``, or for deletions ``oldValue``:
  "value ... is not populated for delete events").
- Legacy -> CloudEvent mapping (``providers/firebase.auth/eventTypes/user.delete`` ->
  ``google.firebase.auth.user.v1.deleted``, ``eventId`` -> ``id``) and fixtures:
  GoogleCloudPlatform/functions-framework-conformance events/generate/data/firebase-auth-*.json.
- CloudEvents HTTP binding (structured/binary modes, ``ce-`` headers):
  https://github.com/cloudevents/spec/blob/main/cloudevents/bindings/http-protocol-binding.md

Mapping:

    google.firebase.auth.user.v1.deleted              -> User Deleted  (userId <- data.uid)
    google.firebase.auth.user.v2.deleted              -> User Deleted  (userId <- data.oldValue.uid)
    providers/firebase.auth/eventTypes/user.delete    -> User Deleted  (userId <- data.uid)
    ...user.v1.created, ...user.v2.created/updated, .../user.create, anything else -> not translated, counted

Decisions:

- Authentication: a bearer token compared in constant time with ``FIREBASE_AUTH_TOKEN``. Google
  signs nothing the forwarder could pass on, so the token is the only proof. The ``Authorization``
  header is a secret header: it is never stored (``_credentials.BearerTokenSource``).
- ``userId`` is the Firebase ``uid``, the id Firebase apps use everywhere. A deletion without a
  ``uid`` fails the request (never a guessed person).
- ``messageId`` is the UUIDv5 of the event id (CloudEvent ``id``, legacy ``eventId``), not of
  ``source`` + ``id``: the legacy and CloudEvent forms of one event share the id (that is how the
  Functions Framework converts them), so a forwarder switching form mid-retry still sends one
  event. ``timestamp`` is ``time`` (legacy ``timestamp``).
- ``User Deleted`` gets no properties; the email and profile in ``data`` are not needed to delete
  the person and are not copied (personal data).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from ... import ids
from ...request import WebhookRequest
from ...semantic.actions import UserDeleted
from .._credentials import BearerTokenSource
from .._translation import build, load_json, optional_timestamp
from ..base import InvalidPayload, Translation

SECRET = "FIREBASE_AUTH_TOKEN"
V1_DELETED = "google.firebase.auth.user.v1.deleted"
V2_DELETED = "google.firebase.auth.user.v2.deleted"
LEGACY_DELETED = "providers/firebase.auth/eventTypes/user.delete"
DELETED_TYPES = frozenset({V1_DELETED, V2_DELETED, LEGACY_DELETED})


@dataclasses.dataclass(frozen=True)
class AuthEvent:
    """One event, whichever shape it came in: the attributes this module reads and its data."""

    type: str
    id: str | None
    time: Any
    data: Any
    raw: Any  # what the event was built from, for error positions


def parse_events(request: WebhookRequest) -> list[AuthEvent]:
    """The events of a request in any of the three shapes; else ``InvalidPayload``."""
    headers = request.headers
    if headers.get("ce-specversion") or headers.get("ce-type"):
        # Binary mode: attributes in headers, the body is the data.
        if not headers.get("ce-type"):
            raise InvalidPayload("binary-mode CloudEvent without a ce-type header")
        return [AuthEvent(headers["ce-type"], headers.get("ce-id"), headers.get("ce-time"), load_json(request.body), None)]
    body = load_json(request.body)
    items = body if isinstance(body, list) else [body]  # application/cloudevents-batch+json is an array
    events = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidPayload(f"event {index} is a JSON {type(item).__name__}, not an object")
        if "specversion" in item:
            kind, event_id, time = item.get("type"), item.get("id"), item.get("time")
        elif isinstance(item.get("context"), dict):
            context = item["context"]
            kind, event_id, time = context.get("eventType"), context.get("eventId"), context.get("timestamp")
        else:
            kind, event_id, time = item.get("eventType"), item.get("eventId"), item.get("timestamp")
        if not isinstance(kind, str) or not kind:
            raise InvalidPayload(f"event {index} is neither a CloudEvent nor a legacy event (no type)")
        events.append(AuthEvent(kind, event_id if isinstance(event_id, str) and event_id else None, time, item.get("data"), index))
    return events


def deleted_uid(event: AuthEvent) -> str | None:
    """The ``uid`` of the deleted user, where the event type puts it."""
    data = event.data if isinstance(event.data, dict) else {}
    user = data.get("oldValue") if event.type == V2_DELETED else data
    uid = user.get("uid") if isinstance(user, dict) else None
    return uid if isinstance(uid, str) and uid else None


class FirebaseAuth(BearerTokenSource):
    family: ClassVar[str] = "mobile"
    name: ClassVar[str] = "firebase-auth"
    docs_url: ClassVar[str] = "https://firebase.google.com/docs/functions/auth-events"
    secret_name: ClassVar[str | None] = SECRET
    ignored_types: ClassVar[dict[str, str]] = {
        "google.firebase.auth.user.v1.created": "not a deletion: Customer.io learns of users from the app",
        "google.firebase.auth.user.v2.created": "not a deletion: Customer.io learns of users from the app",
        "google.firebase.auth.user.v2.updated": "not a deletion: Customer.io learns of users from the app",
        "providers/firebase.auth/eventTypes/user.create": "not a deletion: Customer.io learns of users from the app",
    }

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        for event in parse_events(request):
            if event.type not in DELETED_TYPES:
                translation.ignored[event.type[:64]] += 1
                continue
            where = f"event {event.raw}" if event.raw is not None else "event"
            uid = deleted_uid(event)
            if uid is None:
                raise InvalidPayload(f"{where} ({event.type}): no uid")
            if event.id is None:
                raise InvalidPayload(f"{where} ({event.type}): no event id")
            timestamp = optional_timestamp(event.time, f"{where}: time")
            fields = {"userId": uid, "messageId": ids.message_id(self.full_name(), event.id), "timestamp": timestamp}
            translation.events.append(build(UserDeleted, fields, f"{where} ({event.type})"))
        return translation


SOURCE = FirebaseAuth
