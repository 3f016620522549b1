"""SendGrid Event Webhook -> Customer.io email semantic events.

SendGrid POSTs a JSON array of events (batched: every 30 s or 768 KB per sending server). With the
Signed Event Webhook on, each POST carries an ECDSA P-256 / SHA-256 signature over the bytes of the
timestamp header followed by the raw body.

- Events: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
- Signing: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
- Archived sources of both pages: github.com/sendgrid/docs, content/docs/for-developers/tracking-events/

Mapping (SendGrid ``event`` -> Customer.io event):

    delivered                        -> Email Delivered
    open                             -> Email Opened          (+ machine_open <- sg_machine_open when sent)
    click                            -> Email Link Clicked    (link_url <- url; + url_offset when sent)
    bounce (type "bounce")           -> Email Bounced         (+ reason, status, type, bounce_classification when sent)
    spamreport                       -> Email Marked as Spam
    unsubscribe                      -> Email Unsubscribed
    group_unsubscribe                -> Email Unsubscribed    (list_id <- asm_group_id)
    processed, deferred, dropped, group_resubscribe, account_status_change -> ignored (``ignored_types``)
    anything else                    -> unknown: kept (the request goes to the DLQ for a later replay)

The table in docs/sources/sendgrid.md is checked against ``EVENTS`` and ``ignored_types``.

Policy (``EmailPolicy.from_settings(settings, "SENDGRID")``, see docs/sources/email-policy.md):

- BLOCKS: a bounce with ``type: blocked`` is not a bounce by default ("Blocks ... will not be
  added to a suppression list", SendGrid's bounce docs); it is counted as ``bounce:blocked``.
  SENDGRID_BLOCKS=bounce makes it Email Bounced. ``type: bounce`` is always Email Bounced.
- GROUP_UNSUBSCRIBES: ``group_unsubscribe`` is Email Unsubscribed (with list_id) by default;
  SENDGRID_GROUP_UNSUBSCRIBES=ignore counts it as ``group_unsubscribe:not_counted``.
- MACHINE_OPENS: an open with ``sg_machine_open: true`` (Apple Mail Privacy Protection) is kept and
  flagged by default; SENDGRID_MACHINE_OPENS=drop counts it as ``open:machine``.
- SOFT_BOUNCES has nothing to act on: SendGrid's only soft-bounce-like event is ``deferred``, a
  delivery delay SendGrid keeps retrying, which stays ignored whatever the setting.
- OPENS=first cannot apply: SendGrid sends no first/unique-open flag on open events, so every
  open is translated.

Decisions (each one written down because SendGrid leaves it open):

- ``email_id`` is the X-Message-Id: the part of ``sg_message_id`` before SendGrid's server suffix.
  ``sg_message_id`` is "<X-Message-Id>.<suffix>"; the docs say its first half is pulled from
  ``smtp-id``, and SendGrid tells senders to store the X-Message-Id the Mail Send API returns to
  correlate webhook events (glossary: X-Message-ID). The suffix names SendGrid's servers and has
  changed form over the years (".filter0001…", ".filterdrecv-…", ".recvd-…"). It is derived from
  ``sg_message_id`` alone, so every event of one message gets the same ``email_id`` whether or not
  it carries ``smtp-id`` (only processed/delivered/deferred/bounce/dropped do): an old dotted
  X-Message-Id ("14c5d75ce93.dfd.64b469", three hex groups) is kept whole, a current one (URL-safe
  base64, no dot) ends at the first dot.
  ``SENDGRID_EMAIL_ID=sg_message_id`` keeps the whole value instead: it also tells apart the
  recipients of one API request, which share an X-Message-Id.
- ``link_id`` is never set. ``url_offset`` ({index, type}) only says which of several identical
  URLs in one message was clicked, so it does not identify a link. It is passed on as a property.
- ``ip`` and ``useragent`` go to ``context.traits`` only for engagement events (open, click,
  spamreport, unsubscribe, group_unsubscribe). On delivery events, ``ip`` is SendGrid's sending IP,
  not the recipient's.
- Subject and campaign come from custom args, which SendGrid puts at the top level of each event.
  SendGrid sends no subject, and Customer.io must not get an invented one. The first key present
  wins:
    email_subject  <- SENDGRID_SUBJECT_KEYS        (default: email_subject)
    campaign_id    <- SENDGRID_CAMPAIGN_ID_KEYS    (default: campaign_id), then marketing_campaign_id
    campaign_name  <- SENDGRID_CAMPAIGN_NAME_KEYS  (default: campaign_name), then
                      marketing_campaign_name, then the first category if
                      SENDGRID_CATEGORY_AS_CAMPAIGN_NAME is on. Categories are free tags, so they
                      are not a campaign unless the operator says so.
- Identity: ``IdentityRules.from_settings(settings, "SENDGRID")``. The custom args named by
  SENDGRID_USER_ID_KEYS (default user_id) give the userId; otherwise the recipient's address is
  used as SENDGRID_EMAIL_AS says (default anonymousId). The address also goes to
  ``context.traits.email``.
- ``messageId`` is the UUIDv5 of ``sg_event_id``, which SendGrid documents as its deduplication key.
  An event without one gets the UUIDv5 of its canonical content instead.
- One event that cannot be translated does not hold back the others (``translation.item``): the
  rest are sent, and the request goes to the DLQ whole with the reason, so a mapping fix replays
  it (the events already sent keep their messageIds). A documented absence is not a failure: an asynchronous bounce comes with no
  ``sg_message_id`` ("In the case of a delayed or asynchronous bounce, the message ID will be
  unavailable"). Such a bounce gives no ``email_id`` and never will. It is counted as
  ``bounce:no_sg_message_id`` instead of holding back the rest of the batch.
- Timestamp tolerance: SENDGRID_TOLERANCE_SECONDS, default 300 s, symmetric. SendGrid names no
  window. 300 s is the Standard Webhooks / Svix default, and peers that verify SendGrid use it too
  (Symfony's SendGrid parser, for example). Replays inside the window are harmless because the
  messageIds are deterministic. UNVERIFIED: whether SendGrid re-signs its retries (it retries for
  up to 24 h). If retries ever arrive with their first timestamp, raise the window.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any, ClassVar, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ... import ids
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
    EmailUnsubscribed,
)
from .._translation import EventBatch, describe, event_objects, not_mapped, setting_keys
from ..base import InvalidPayload, NotConfigured, Source, Translation, Unauthorized
from ._policy import (
    BLOCKED,
    DELAYED,
    GROUP_UNSUBSCRIBE_OFF,
    MACHINE_OPEN_DROPPED,
    MACHINE_OPEN_PROPERTY,
    NEVER_SENT,
    NOT_YET_SENT,
    RESUBSCRIBED,
    EmailPolicy,
    choice,
)

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
KEY_SECRET = "SENDGRID_VERIFICATION_KEY"
DEFAULT_TOLERANCE_SECONDS = 300

# SendGrid event type -> Customer.io event. Everything else is counted in Translation.ignored.
EVENTS: dict[str, type[EmailEvent]] = {
    "delivered": EmailDelivered,
    "open": EmailOpened,
    "click": EmailLinkClicked,
    "bounce": EmailBounced,
    "spamreport": EmailMarkedAsSpam,
    "unsubscribe": EmailUnsubscribed,
    "group_unsubscribe": EmailUnsubscribed,
}
# Events where ``ip``/``useragent`` belong to the recipient (elsewhere ``ip`` is SendGrid's own).
ENGAGEMENT = frozenset({"open", "click", "spamreport", "unsubscribe", "group_unsubscribe"})
BOUNCE_DETAILS = ("reason", "status", "type", "bounce_classification")


# ---- payload -------------------------------------------------------------------------------------


class SendGridEvent(BaseModel):
    """One event of the posted array, typed where SendGrid documents the field.

    Custom args (``custom_args`` / ``unique_args`` of the send) arrive as extra top-level keys, so
    extra fields are kept. Only events that are translated are validated against this model. The
    others need nothing but an ``event`` type.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event: str
    email: str = Field(min_length=1)
    timestamp: int = Field(ge=0)  # unix seconds
    sg_event_id: str | None = None
    sg_message_id: str | None = None
    smtp_id: str | None = Field(default=None, alias="smtp-id")
    category: str | list[str] | None = None
    asm_group_id: int | str | None = None
    url: str | None = None
    url_offset: dict[str, Any] | None = None
    useragent: str | None = None
    ip: str | None = None
    reason: str | None = None
    status: str | None = None
    type: str | None = None  # bounce: "bounce" (hard bounce) or "blocked"
    bounce_classification: str | None = None
    sg_machine_open: bool | None = None
    marketing_campaign_id: int | str | None = None
    marketing_campaign_name: str | None = None


# What SendGridEvent types, for the fast check in ``typed_fields``: field (by alias) -> exact types.
_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "sg_event_id": (str,),
    "sg_message_id": (str,),
    "smtp-id": (str,),
    "category": (str, list),
    "asm_group_id": (int, str),
    "url": (str,),
    "url_offset": (dict,),
    "useragent": (str,),
    "ip": (str,),
    "reason": (str,),
    "status": (str,),
    "type": (str,),
    "bounce_classification": (str,),
    "sg_machine_open": (bool,),
    "marketing_campaign_id": (int, str),
    "marketing_campaign_name": (str,),
}


def typed_fields(raw: dict[str, Any]) -> Mapping[str, Any]:
    """The event's fields as ``SendGridEvent`` validates them, keyed by alias (``smtp-id``).

    An event whose fields already have exactly the types the model declares (what SendGrid sends)
    is returned as it is: validating it would change nothing, and skipping the model saves a third
    of the time an event takes. Anything else (a number as text, a missing field...) goes through
    the model, which coerces it or says what is wrong (``ValidationError``).
    """
    email, timestamp = raw.get("email"), raw.get("timestamp")
    if (
        type(email) is str and email != "" and (email.isascii() or _encodable(email))  # min_length refuses lone surrogates
        and type(timestamp) is int and timestamp >= 0
        and "smtp_id" not in raw  # the field's own name: the model reads it too (populate_by_name)
    ):  # fmt: skip
        for name, value in raw.items():  # only the keys sent: fewer than the fields declared
            types = _OPTIONAL_TYPES.get(name)
            if types is not None and value is not None and type(value) not in types:
                break
        else:
            category = raw.get("category")
            if type(category) is not list or all(type(item) is str for item in category):
                return raw
    return SendGridEvent.model_validate(raw).model_dump(by_alias=True)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_batch(body: bytes) -> list[dict[str, Any]]:
    """The posted body as a list of event objects, each with a string ``event``; else ``InvalidPayload``."""
    return event_objects(body, single=False)


# ---- authentication ------------------------------------------------------------------------------


def verify(
    raw_body: bytes,
    headers: Mapping[str, str],
    public_key: str | ec.EllipticCurvePublicKey,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise ``Unauthorized`` unless SendGrid signed exactly ``timestamp + raw_body`` recently.

    ``public_key`` is the verification key as SendGrid shows it: base64 DER SubjectPublicKeyInfo, or
    PEM. Several keys separated by commas are accepted during a rotation. A key that cannot be loaded
    raises ``NotConfigured``. ``now`` (unix seconds) defaults to the clock.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    signature_b64, timestamp = lowered.get(SIGNATURE_HEADER), lowered.get(TIMESTAMP_HEADER)
    if not signature_b64 or not timestamp:
        raise Unauthorized("missing SendGrid signature or timestamp header")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Unauthorized("SendGrid timestamp header is not unix seconds")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        raise Unauthorized(f"SendGrid timestamp is more than {tolerance_seconds} s from now")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise Unauthorized("SendGrid signature header is not base64") from None
    keys = (public_key,) if isinstance(public_key, ec.EllipticCurvePublicKey) else load_public_keys(public_key)
    signed = timestamp.encode("ascii") + raw_body
    for key in keys:
        try:
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
            return
        except InvalidSignature:  # also raised for a signature that is not DER at all
            continue
    raise Unauthorized("SendGrid signature does not match")


def sign(private_key: str | ec.EllipticCurvePrivateKey, raw_body: bytes, timestamp: int | str | None = None) -> dict[str, str]:
    """The signature headers SendGrid would send for ``raw_body``, made with a key pair of your own.

    For tests and for posting samples to a deployment whose verification key is your public key;
    SendGrid's own private key never leaves SendGrid. ``private_key`` may be PEM text.
    """
    if isinstance(private_key, str):
        loaded = serialization.load_pem_private_key(private_key.encode("ascii"), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError("a SendGrid signing key must be an ECDSA P-256 private key")
        private_key = loaded
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    # Deterministic (RFC 6979): the same key, timestamp and body always give the same signature, so
    # the generated events/ do not change on every run. SendGrid's verifiers accept either kind.
    signature = private_key.sign(stamp.encode("ascii") + raw_body, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return {SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"), TIMESTAMP_HEADER: stamp}


@functools.lru_cache(maxsize=8)
def load_public_keys(text: str) -> tuple[ec.EllipticCurvePublicKey, ...]:
    """Parse one or more (comma-separated) verification keys; ``NotConfigured`` if any is not P-256."""
    keys = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            if item.startswith("-----BEGIN"):
                key = serialization.load_pem_public_key(item.encode("ascii"))
            else:
                key = serialization.load_der_public_key(base64.b64decode(item, validate=True))
        except (ValueError, binascii.Error, UnicodeEncodeError):
            raise NotConfigured(f"{KEY_SECRET} is not a base64 DER or PEM public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise NotConfigured(f"{KEY_SECRET} is not an ECDSA P-256 public key")
        keys.append(key)
    if not keys:
        raise NotConfigured(f"{KEY_SECRET} is empty")
    return tuple(keys)


# ---- the source ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Options:
    """The SENDGRID_* settings translation reads, read once when the source is built (see the module docstring)."""

    subject_keys: tuple[str, ...]
    campaign_id_keys: tuple[str, ...]
    campaign_name_keys: tuple[str, ...]
    category_as_campaign_name: bool
    whole_sg_message_id: bool

    @functools.cached_property
    def custom_arg_keys(self) -> frozenset[str]:
        """Every key the properties may come from: an event with none of them needs no lookup."""
        return frozenset((*self.subject_keys, *self.campaign_id_keys, *self.campaign_name_keys))

    @classmethod
    def from_settings(cls, settings: Settings) -> Options:
        return cls(
            subject_keys=setting_keys(settings, "SENDGRID_SUBJECT_KEYS", "email_subject"),
            campaign_id_keys=(*setting_keys(settings, "SENDGRID_CAMPAIGN_ID_KEYS", "campaign_id"), "marketing_campaign_id"),
            campaign_name_keys=(*setting_keys(settings, "SENDGRID_CAMPAIGN_NAME_KEYS", "campaign_name"), "marketing_campaign_name"),
            category_as_campaign_name=settings.get_bool("SENDGRID_CATEGORY_AS_CAMPAIGN_NAME"),
            whole_sg_message_id=choice(settings, "SENDGRID_EMAIL_ID", ("x_message_id", "sg_message_id")) == "sg_message_id",
        )


class SendGrid(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "sendgrid"
    docs_url: ClassVar[str] = "https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event"
    secret_name: ClassVar[str | None] = KEY_SECRET
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    ignored_types: ClassVar[Mapping[str, str]] = {
        "processed": NOT_YET_SENT,
        "deferred": DELAYED,
        "dropped": NEVER_SENT,
        "group_resubscribe": RESUBSCRIBED,
        "account_status_change": "a compliance action on the sending account: about no recipient",
        "bounce:blocked": BLOCKED,
        "bounce:no_sg_message_id": "an asynchronous bounce: SendGrid sends no message id, so there is no email_id",
        "group_unsubscribe:not_counted": GROUP_UNSUBSCRIBE_OFF,
        "open:machine": MACHINE_OPEN_DROPPED,
    }

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.rules = IdentityRules.from_settings(self.settings, "SENDGRID")
        self.policy = EmailPolicy.from_settings(self.settings, "SENDGRID")
        self.options = Options.from_settings(self.settings)
        self.source_name = self.full_name()  # the messageId's namespace, read on every event
        self.policy_types = _policy_types(self.policy)  # the types _skipped_by_policy could leave out

    def authenticate(self, request: WebhookRequest) -> None:
        if (key := self.secret_or_open(KEY_SECRET)) is not None:
            tolerance = self.tolerance_seconds("SENDGRID_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
            # The time AWS received the request (Function URL timeEpoch), so a stored request keeps
            # the verdict it had on arrival.
            verify(request.body, request.headers, key, tolerance_seconds=tolerance, now=request.received_at.timestamp())

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        headers = {**request.headers, **sign(key, request.body, int(request.received_at.timestamp()))}
        return dataclasses.replace(request, headers=headers)

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        events, policy_types, policy, rules, options = EVENTS, self.policy_types, self.policy, self.rules, self.options
        not_sent: list[str] = []  # what each event not sent counts as: tallied once, after the loop
        with EventBatch(translation) as batch:
            add_event, fields_of = batch.add_event, self._fields  # bound once, not once per event
            for index, raw in enumerate(parse_batch(request.body)):
                kind = raw["event"]
                if kind not in events:
                    not_sent.append(kind)
                elif kind in policy_types and (skipped := _skipped_by_policy(kind, raw, policy)) is not None:
                    not_sent.append(skipped)
                elif kind == "bounce" and not raw.get("sg_message_id"):
                    # Documented: asynchronous bounces have no message id, so no email_id (see above).
                    not_sent.append("bounce:no_sg_message_id")
                else:
                    add_event(events[kind], index, kind, fields_of, kind, raw, rules, options)
        for key, times in Counter(not_sent).items():  # in the order first met, as counting in the loop did
            not_mapped(translation, key, self.ignored_types, times)
        return translation

    def _fields(self, kind: str, raw: dict[str, Any], rules: IdentityRules, options: Options) -> dict[str, Any]:
        """What the event's model validates (``_translation.build``), in one pass over the event.
        A failure does not name the item: ``EventBatch.add_event`` prefixes its name when it records it."""
        try:
            event = typed_fields(raw)
        except ValidationError as error:
            raise InvalidPayload(describe(error)) from None
        get = event.get
        sg_message_id = get("sg_message_id")
        if not sg_message_id:
            raise InvalidPayload("no sg_message_id, so no email_id")

        properties: dict[str, Any] = {"email_id": sg_message_id if options.whole_sg_message_id else x_message_id(sg_message_id)}
        if options.category_as_campaign_name or not options.custom_arg_keys.isdisjoint(raw):  # most events carry no custom args
            if (subject := _first(raw, options.subject_keys)) is not None:
                properties["email_subject"] = subject
            if (campaign_id := _first(raw, options.campaign_id_keys)) is not None:
                properties["campaign_id"] = campaign_id
            if (campaign_name := _campaign_name(raw, event, options)) is not None:
                properties["campaign_name"] = campaign_name
        if kind == "click":
            if (url := get("url")) is not None:
                properties["link_url"] = url
            if (url_offset := get("url_offset")) is not None:
                properties["url_offset"] = url_offset
        elif kind == "open":
            if (machine_open := get("sg_machine_open")) is not None:
                properties[MACHINE_OPEN_PROPERTY] = machine_open
        elif kind == "bounce":
            for name in BOUNCE_DETAILS:
                if (value := get(name)) is not None:
                    properties[name] = value
        elif kind == "group_unsubscribe":
            if get("asm_group_id") is None:
                # Without the group it would read as a global unsubscribe: not what happened.
                raise InvalidPayload("no asm_group_id, so no list_id")
            properties["list_id"] = str(event["asm_group_id"])

        email = address(event["email"])
        if email is None:
            raise InvalidPayload("email is not one address")
        traits: dict[str, Any] = {"email": email}
        if kind in ENGAGEMENT:
            if (ip := get("ip")) is not None:
                traits["ip"] = ip
            if (user_agent := get("useragent")) is not None:
                traits["user_agent"] = user_agent
        try:
            fields: dict[str, Any] = rules.resolve(raw, email)
        except NoIdentity as error:
            raise InvalidPayload(str(error)) from None
        sg_event_id = get("sg_event_id")
        fields["messageId"] = ids.message_id(self.source_name, sg_event_id) if sg_event_id else ids.message_id_of_content(self.source_name, raw)
        try:
            fields["timestamp"] = datetime.fromtimestamp(event["timestamp"], UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidPayload("timestamp out of range") from None
        fields["context"] = {"traits": traits}
        fields["properties"] = properties
        return fields


def _campaign_name(raw: Mapping[str, Any], event: Mapping[str, Any], options: Options) -> str | None:
    name = _first(raw, options.campaign_name_keys)
    if name is None and options.category_as_campaign_name:
        category = event.get("category")
        categories = [category] if isinstance(category, str) else (category or [])
        name = next((c for c in categories if c), None)
    return name


def _policy_types(policy: EmailPolicy) -> frozenset[str]:
    """The types ``_skipped_by_policy`` can leave out under ``policy`` (the others need no look)."""
    return frozenset(
        kind
        for kind, applies in (("bounce", not policy.blocks_are_bounces), ("group_unsubscribe", not policy.group_unsubscribes_count), ("open", policy.drop_machine_opens))
        if applies
    )


def _skipped_by_policy(kind: str, raw: Mapping[str, Any], policy: EmailPolicy) -> str | None:
    """The ignored-count key when the operator's email policy leaves this event out, else None."""
    if kind == "bounce" and raw.get("type") == "blocked" and not policy.blocks_are_bounces:
        return "bounce:blocked"
    if kind == "group_unsubscribe" and not policy.group_unsubscribes_count:
        return "group_unsubscribe:not_counted"
    if kind == "open" and raw.get("sg_machine_open") is True and policy.drop_machine_opens:
        return "open:machine"
    return None


def x_message_id(sg_message_id: str) -> str:
    """The X-Message-Id in ``sg_message_id`` ("<X-Message-Id>.<SendGrid server suffix>").

    Derived from ``sg_message_id`` alone, so every event of a message agrees. Old ids have dots of
    their own: three hex groups ("14c5d75ce93.dfd.64b469.filter0001…", whose ``smtp-id`` is
    "<14c5d75ce93.dfd.64b469@ismtpd-555>"); a server suffix never starts with a hex-only group
    ("filter…", "stfilter…", "recvd…"). Current X-Message-Ids are URL-safe base64 and end at the
    first dot.
    """
    if (old := _OLD_X_MESSAGE_ID.match(sg_message_id)) is not None:
        return old.group(1)
    return sg_message_id.partition(".")[0] or sg_message_id


_OLD_X_MESSAGE_ID = re.compile(r"([0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+)(?:\.|$)")


def _first(raw: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` with a non-empty string or integer value, as a string."""
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


SOURCE = SendGrid
