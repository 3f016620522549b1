"""Brevo transactional email webhooks -> Customer.io email semantic events.

- Events and payloads: https://developers.brevo.com/docs/transactional-webhooks
- Securing the notify URL: https://developers.brevo.com/docs/username-and-password-authentication
- Batched webhooks (arrays of up to 500 events): https://developers.brevo.com/docs/batch-webhooks
- Retries: https://developers.brevo.com/docs/retry-mechanism

Mapping (Brevo ``event`` -> Customer.io event):

    delivered          -> Email Delivered
    opened             -> Email Opened           unless BREVO_OPENS / EMAIL_OPENS is "first"
    unique_opened      -> Email Opened           (+ first_open: true)
    proxy_open         -> Email Opened           (+ machine_open: true) unless opens "first" or
                                                 BREVO_MACHINE_OPENS / EMAIL_MACHINE_OPENS "drop"
    unique_proxy_open  -> Email Opened           (+ first_open, machine_open) unless machine opens "drop"
    click              -> Email Link Clicked     link_url <- link
    hard_bounce        -> Email Bounced          (+ bounce_type "hard", reason)
    soft_bounce        -> Email Bounced          only if BREVO_SOFT_BOUNCES / EMAIL_SOFT_BOUNCES is "bounce"
    spam, complaint    -> Email Marked as Spam   (Brevo's webhook page files "Spam" under #complaint)
    unsubscribed, unsubscribe -> Email Unsubscribed  (the docs' example says "unsubscribed";
                          django-anymail, from live captures, maps "unsubscribe": both are read)
    request (sent), deferred, error, blocked, invalid_email -> ignored (``ignored_types``): blocked
                          and invalid_email were never sent (a blocklisted contact, an address refused
                          before sending), so by the email policy they are not bounces
    anything else      -> unknown: kept (the request goes to the DLQ for a later replay)

The table in docs/sources/brevo.md is checked against ``EVENTS`` and ``ignored_types``.

Authentication: Brevo does not sign webhooks. A webhook is protected by Basic credentials in its
URL (``https://user:password@<function url>/brevo``, arriving as ``Authorization: Basic``) or by a
token (``"auth": {"type": "bearer", "token": ...}`` on the webhook, arriving as
``Authorization: Bearer <token>``). ``BREVO_BASIC_AUTH`` (``user:password``) and ``BREVO_TOKEN`` are
both accepted when both are set (e.g. during a switch); comparisons are constant-time
(``_credentials.py``). With neither, every request is refused (NotConfigured) unless
``CIOHOOKS_ALLOW_UNSIGNED``. No timestamp is signed, so a captured request could be replayed:
harmless, messageIds are content-derived.

Answer codes: Brevo retries only when the endpoint does not answer or answers 429; "4xx response
codes, except for 429, and any 5xx response code stop all retry attempts and discard the webhook".
``retry_status = 429`` says so for the moments ingest wants a retry (queue unavailable, not
configured); until ingest reads it, those answers are 503 and Brevo drops the webhook (see
docs/sources/brevo.md).

Decisions:

- ``email_id`` is ``message-id`` without its angle brackets: the Send API returns
  ``<201798300811.5787683@relay.domain.com>``, the webhook docs show it bare, and both must match.
- Opens. Brevo reports a message's first open as ``unique_opened`` and later ones as ``opened``
  (django-anymail's live tests: it used to send both for the first open). With opens "all" (default)
  both become Email Opened. Their messageIds are derived from the event with its name set aside, so
  if Brevo reports one open under both names (same message, recipient and timestamps) the two
  collapse into one messageId instead of counting twice. With opens "first" only ``unique_opened``
  (and ``unique_proxy_open``) count. Proxy opens (Apple Mail Privacy Protection and the like) are
  kept and flagged ``machine_open`` unless machine opens are dropped.
- ``messageId``: Brevo sends no event id (``id`` is the webhook's), so UUIDv5 of the event content.
- Timestamp: ``ts_epoch`` (milliseconds UTC, though some documented samples give seconds: both are
  read), else ``ts_event``, else ``ts`` (seconds UTC). ``date`` is in the account's time zone, unused.
  Brevo's own Proxy Open example has none of the three: such an event takes the time the request was
  received (Brevo posts in near real time; a replay keeps the original received time).
- Identity: ``IdentityRules.from_settings(settings, "BREVO")`` over the ``X-Mailin-custom`` header
  the sender set, when it holds a JSON object (default key ``user_id``). ``BREVO_USER_ID_TAG_PREFIX``
  (e.g. ``user:``) also lets a tag ``user:42`` give the userId 42. Else the address as
  ``BREVO_EMAIL_AS`` (default anonymousId).
- An event with an empty ``email`` (Brevo's own unique_proxy_open sample has one) and no user id in
  its metadata names nobody: counted as ``<event>:no_email``, not failed.
- ``email_subject`` <- ``subject``; ``template_id`` and ``tags`` are passed on. ``user_agent`` (and
  ``ip`` when present) go to ``context.traits`` for opens, clicks and unsubscribes. ``sending_ip`` is
  Brevo's own, never a trait.
- Time zone caveat (django-anymail, from live tests): ``ts``, ``ts_event`` and ``date`` seemed to
  follow the account's time zone, ``ts_epoch`` (ms) is always UTC. ``ts_epoch`` is therefore read
  first; an account set to another zone than UTC should keep ``ts_epoch`` in its webhook events.
"""

from __future__ import annotations

import json
from datetime import datetime
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
from .._translation import email_event, event_objects, not_mapped, timestamp_of
from ..base import InvalidPayload, Source, Translation, Unauthorized
from ._policy import (
    DELAYED,
    MACHINE_OPEN_DROPPED,
    MACHINE_OPEN_PROPERTY,
    NEVER_SENT,
    NO_RECIPIENT,
    NOT_FIRST_OPEN,
    NOT_YET_SENT,
    PROVIDER_ERROR,
    SOFT_BOUNCE,
    EmailPolicy,
)

BASIC_SECRET = "BREVO_BASIC_AUTH"
TOKEN_SECRET = "BREVO_TOKEN"
EVENTS: dict[str, type[EmailEvent]] = {
    "delivered": EmailDelivered,
    "opened": EmailOpened,
    "unique_opened": EmailOpened,
    "proxy_open": EmailOpened,
    "unique_proxy_open": EmailOpened,
    "click": EmailLinkClicked,
    "hard_bounce": EmailBounced,
    "soft_bounce": EmailBounced,
    "spam": EmailMarkedAsSpam,
    "complaint": EmailMarkedAsSpam,
    "unsubscribed": EmailUnsubscribed,
    "unsubscribe": EmailUnsubscribed,
}
OPENS = frozenset({"opened", "unique_opened", "proxy_open", "unique_proxy_open"})
UNSUBSCRIBES = frozenset({"unsubscribed", "unsubscribe"})
FIRST_OPENS = frozenset({"unique_opened", "unique_proxy_open"})
MACHINE_OPENS = frozenset({"proxy_open", "unique_proxy_open"})
ENGAGEMENT = OPENS | UNSUBSCRIBES | {"click"}
BOUNCE_TYPES = {"hard_bounce": "hard", "soft_bounce": "soft"}


# ---- authentication ------------------------------------------------------------------------------


def check_authorization(header: str | None, basic: str | None, token: str | None) -> None:
    """``Unauthorized`` unless ``header`` carries the configured Basic credentials or bearer token."""
    scheme, _, value = (header or "").strip().partition(" ")
    if not value.strip():
        raise Unauthorized("missing or malformed Authorization header")
    if scheme.lower() == "basic" and basic is not None:
        credentials.require(credentials.basic(header), basic, "Basic Authorization header")
    elif scheme.lower() == "bearer" and token is not None:
        credentials.require(credentials.bearer(header), token, "bearer token")
    else:
        raise Unauthorized("Authorization scheme is not the one configured")


# ---- payload -------------------------------------------------------------------------------------


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """One event object, or a batch (array): a list of objects with a string ``event``."""
    return event_objects(body, single=True)


def message_id(value: Any) -> str | None:
    """Brevo's message id without the angle brackets the Send API puts around it."""
    if not isinstance(value, str):
        return None
    bare = value.strip().removeprefix("<").removesuffix(">").strip()
    return bare or None


def tags(event: Mapping[str, Any]) -> list[str]:
    """``tags`` (array), else ``tag`` (a JSON-serialised array, or one tag)."""
    if isinstance(event.get("tags"), list):
        return [t for t in event["tags"] if isinstance(t, str)]
    tag = event.get("tag")
    if isinstance(tag, str) and tag:
        if tag.startswith("["):
            try:
                parsed = loads_json(tag)
            except json.JSONDecodeError:
                return [tag]
            return [t for t in parsed if isinstance(t, str)] if isinstance(parsed, list) else [tag]
        return [tag]
    return []


def custom_header(event: Mapping[str, Any]) -> dict[str, Any]:
    """``X-Mailin-custom`` as a dict when the sender put a JSON object in it."""
    value = event.get("X-Mailin-custom")
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = loads_json(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


# ---- the source ----------------------------------------------------------------------------------


class Brevo(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "brevo"
    docs_url: ClassVar[str] = "https://developers.brevo.com/docs/transactional-webhooks"
    secret_name: ClassVar[str | None] = TOKEN_SECRET
    secret_names: ClassVar[tuple[str, ...]] = (TOKEN_SECRET, BASIC_SECRET)
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    ignored_types: ClassVar[Mapping[str, str]] = {
        "request": NOT_YET_SENT,
        "deferred": DELAYED,
        "error": PROVIDER_ERROR,
        "blocked": NEVER_SENT,
        "invalid_email": "the address was refused as invalid before sending: " + NEVER_SENT,
        "list_addition": "a contact added to a list (a marketing event): about no message",
        "soft_bounce:soft": SOFT_BOUNCE,
        **{f"{kind}:not_first": NOT_FIRST_OPEN for kind in sorted(OPENS - FIRST_OPENS)},
        **{f"{kind}:machine": MACHINE_OPEN_DROPPED for kind in sorted(MACHINE_OPENS)},
        **{f"{kind}:no_email": NO_RECIPIENT + " (Brevo's own unique_proxy_open sample has an empty email)" for kind in EVENTS},
    }
    # Brevo retries on 429 only; every other 4xx and all 5xx discard the webhook (see docstring).
    retry_status: ClassVar[int] = 429

    def authenticate(self, request: WebhookRequest) -> None:
        basic, token = self.secret(BASIC_SECRET), self.secret(TOKEN_SECRET)
        if basic is None and token is None:
            return self.refuse_or_open(BASIC_SECRET, TOKEN_SECRET)
        check_authorization(request.header("authorization"), basic and credentials.basic_secret(BASIC_SECRET, basic), token)

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """``request`` as Brevo sends it for a webhook whose ``auth`` is the bearer token ``key``."""
        return credentials.with_header(request, "authorization", credentials.bearer_header(key))

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.rules = IdentityRules.from_settings(self.settings, "BREVO")
        self.policy = EmailPolicy.from_settings(self.settings, "BREVO")
        self.tag_prefix = self.settings.get("BREVO_USER_ID_TAG_PREFIX")

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        for index, raw in enumerate(parse_events(request.body)):
            kind = raw["event"]
            if kind not in EVENTS:
                not_mapped(translation, kind, self.ignored_types)
            elif (skipped := self._skipped(kind, self.policy)) is not None:
                translation.ignored[skipped] += 1
            else:
                with translation.item(f"event {index + 1} ({kind})"):
                    event = self._event(index, kind, raw, request.received_at)
                    if event is None:
                        translation.ignored[f"{kind}:no_email"] += 1
                    else:
                        translation.events.append(event)
        return translation

    @staticmethod
    def _skipped(kind: str, policy: EmailPolicy) -> str | None:
        """Why an event of a mapped type is not translated under the policy, or None."""
        if kind in OPENS and policy.first_opens_only and kind not in FIRST_OPENS:
            return f"{kind}:not_first"
        if kind in MACHINE_OPENS and policy.drop_machine_opens:
            return f"{kind}:machine"
        if kind == "soft_bounce" and not policy.soft_bounces_are_bounces:
            return "soft_bounce:soft"
        return None

    def _event(self, index: int, kind: str, raw: Mapping[str, Any], received_at: datetime) -> EmailEvent | None:
        where = f"event {index + 1} ({kind})"
        email = address(raw.get("email"))
        email_id = message_id(raw.get("message-id"))
        if email_id is None:
            raise InvalidPayload(f"{where}: no message-id")
        event_tags = tags(raw)
        properties: dict[str, Any] = {
            "email_id": email_id,
            "email_subject": raw.get("subject") if isinstance(raw.get("subject"), str) and raw.get("subject") else None,
            "template_id": str(raw["template_id"]) if isinstance(raw.get("template_id"), int | str) and raw.get("template_id") != "" else None,
            "tags": event_tags or None,
        }
        if kind in FIRST_OPENS:
            properties["first_open"] = True
        if kind in MACHINE_OPENS:
            properties[MACHINE_OPEN_PROPERTY] = True
        if kind == "click":
            properties["link_url"] = raw.get("link") or None
        if kind in BOUNCE_TYPES:
            properties["bounce_type"] = BOUNCE_TYPES[kind]
            properties["reason"] = raw.get("reason") or None
        traits: dict[str, Any] = {"email": email}
        if kind in ENGAGEMENT:
            traits.update(ip=raw.get("ip") or None, user_agent=raw.get("user_agent") or None)
        try:
            identity = _identity(raw, email, event_tags, self.rules, self.tag_prefix)
        except NoIdentity:
            return None  # documented absence: see the module docstring
        stamp = next((raw[k] for k in ("ts_epoch", "ts_event", "ts") if raw.get(k) not in (None, "")), None)
        timestamp = received_at if stamp is None else timestamp_of(stamp, where)  # see the docstring
        # Opens: the same pixel load reported as unique_opened and opened collapses into one id.
        content = {**raw, "event": "opened"} if kind in ("opened", "unique_opened") else raw
        cio_id = ids.message_id_of_content(self.full_name(), content)
        return email_event(EVENTS[kind], identity, cio_id, timestamp, properties, traits, where)


def _identity(raw: Mapping[str, Any], email: str | None, event_tags: list[str], rules: IdentityRules, tag_prefix: str | None) -> dict[str, str]:
    """X-Mailin-custom keys, then a tag with BREVO_USER_ID_TAG_PREFIX, then the address."""
    try:
        return rules.resolve(custom_header(raw), None)
    except NoIdentity:
        pass
    if tag_prefix:
        tagged = next((t[len(tag_prefix):] for t in event_tags if t.startswith(tag_prefix) and len(t) > len(tag_prefix)), None)
        if tagged is not None:
            return {"userId": tagged}
    return rules.resolve(None, email)


SOURCE = Brevo
