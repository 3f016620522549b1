"""Postmark webhooks -> Customer.io email semantic events.

Postmark POSTs one JSON object per event, with ``RecordType`` naming it. Postmark does not sign its
webhooks: it authenticates with HTTP Basic credentials written into the webhook URL
(``https://user:pass@host/postmark``) and/or custom headers set on the webhook.

- Webhooks overview: https://postmarkapp.com/developer/webhooks/webhooks-overview
- Delivery: https://postmarkapp.com/developer/webhooks/delivery-webhook
- Bounce: https://postmarkapp.com/developer/webhooks/bounce-webhook (bounce types:
  https://postmarkapp.com/developer/api/bounce-api#bounce-types)
- Open: https://postmarkapp.com/developer/webhooks/open-tracking-webhook
- Click: https://postmarkapp.com/developer/webhooks/click-webhook
- Spam complaint: https://postmarkapp.com/developer/webhooks/spam-complaint-webhook
- Subscription change: https://postmarkapp.com/developer/webhooks/subscription-change-webhook

Mapping (``RecordType`` -> Customer.io event):

    Delivery                 -> Email Delivered
    Bounce, Type HardBounce / BadEmailAddress        -> Email Bounced (bounce_type, details)
    Bounce, Type SoftBounce / Transient / DnsError   -> soft: ignored "Bounce:SoftBounce" etc. unless
                                                        POSTMARK_SOFT_BOUNCES=bounce
    Bounce, Type Blocked / DMARCPolicy               -> block: ignored "Bounce:Blocked" etc. unless
                                                        POSTMARK_BLOCKS=bounce (email policy)
    Bounce, any other Type                           -> ignored "Bounce:<Type>": not a failed delivery of
                                                        this message (AutoResponder, AddressChange,
                                                        Subscribe/Unsubscribe requests, SpamNotification,
                                                        ChallengeVerification, VirusNotification,
                                                        OpenRelayTest, Unknown, ManuallyDeactivated,
                                                        Unconfirmed, SMTPApiError, InboundError,
                                                        TemplateRenderingFailed, SpamComplaint)
    SpamComplaint            -> Email Marked as Spam
    Open                     -> Email Opened (first_open <- FirstOpen; POSTMARK_OPENS=first keeps only
                                FirstOpen true, the others counted as "Open:not_first")
    Click                    -> Email Link Clicked (link_url <- OriginalLink)
    SubscriptionChange       -> Email Unsubscribed only for a recipient's own unsubscribe:
                                SuppressSending true, SuppressionReason ManualSuppression, Origin
                                Recipient (list_id <- MessageStream). Otherwise ignored:
                                "SubscriptionChange:resubscribe" (SuppressSending false),
                                "SubscriptionChange:HardBounce" / ":SpamComplaint" (the suppression a
                                bounce or complaint caused: that event was reported by its own webhook),
                                "SubscriptionChange:ManualSuppression:Customer" (you or Postmark
                                suppressed the address, not the recipient).
    Inbound                  -> ignored: inbound mail (Postmark's inbound webhook aimed at this route)
    anything else            -> unknown: kept (the request goes to the DLQ for a later replay).

The table in docs/sources/postmark.md is checked against ``EVENTS`` and ``ignored_types``.

Decisions:

- ``email_id`` is ``MessageID``, the id Postmark's send API returns and every event repeats.
- ``messageId``: Bounce and SpamComplaint records carry Postmark's numeric bounce ``ID``: the
  UUIDv5 of "RecordType:ID". The other records have no event id: the UUIDv5 of the canonical
  payload (it includes the event time, so two opens differ and a retry is the same).
- Identity: ``IdentityRules.from_settings(settings, "POSTMARK")`` over ``Metadata`` (default key
  ``user_id``), else the recipient (``Recipient``, or ``Email`` on bounces and complaints) as
  POSTMARK_EMAIL_AS says. The address is always in ``context.traits.email``; on Open and Click,
  ``Geo.IP`` and ``UserAgent`` go to traits when sent.
- Subject: Bounce and SpamComplaint records carry ``Subject`` -> ``email_subject``. The other
  records have none, so none is sent.
- MACHINE_OPENS cannot apply: Postmark's Open record carries no machine/privacy-proxy flag.
- GROUP_UNSUBSCRIBES does not apply: Postmark's suppressions are always per message stream (there
  is no account-wide unsubscribe), so the stream is simply where the recipient unsubscribed
  (``list_id``), not a narrower group.
- Timestamps: ``DeliveredAt``, ``BouncedAt``, ``ReceivedAt``, ``ChangedAt`` (ISO 8601 with up to 7
  fractional digits; read by ``parse_timestamp``).

Authentication (fail closed): configure at least one of

- ``POSTMARK_BASIC_AUTH`` (secret, ``user:pass``): put the same credentials in the webhook URL.
- ``POSTMARK_SECRET_HEADER`` (setting, a header name such as ``X-Webhook-Secret``) together with
  ``POSTMARK_SECRET`` (secret, its value): add that custom header to the webhook in Postmark.

When both are configured, both must match. Comparisons are constant-time over SHA-256 digests
(``_credentials.py``). ``POSTMARK_BASIC_AUTH`` without a ``:`` cannot be Basic credentials: not
configured (503). The configured header never reaches a queue (``secret_headers``);
``Authorization`` never does.
Answer codes: 200 for everything accepted. Postmark retries other answers for a while (its retry
schedule), so a wrong credential (401) or a missing one (503) loses nothing while it is fixed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

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
from .. import _credentials as credentials
from .._translation import email_event, load_json, not_mapped, text_or_none, timestamp_of
from ..base import InvalidPayload, NotConfigured, Source, Translation
from ._policy import BLOCKED, NOT_FIRST_OPEN, RESUBSCRIBED, SOFT_BOUNCE, EmailPolicy

BASIC_SECRET = "POSTMARK_BASIC_AUTH"
HEADER_SETTING = "POSTMARK_SECRET_HEADER"
HEADER_SECRET = "POSTMARK_SECRET"

HARD_BOUNCES = frozenset({"HardBounce", "BadEmailAddress"})
SOFT_BOUNCES = frozenset({"SoftBounce", "Transient", "DnsError"})
BLOCKS = frozenset({"Blocked", "DMARCPolicy"})
# Postmark's other bounce types: not a failed delivery of this message to this address.
NOT_BOUNCES = (
    "AutoResponder", "AddressChange", "Subscribe", "Unsubscribe", "SpamNotification", "ChallengeVerification", "VirusNotification",
    "OpenRelayTest", "Unknown", "ManuallyDeactivated", "Unconfirmed", "SMTPApiError", "InboundError", "TemplateRenderingFailed", "SpamComplaint",
)  # fmt: skip
# record type -> (semantic event, recipient field, time field)
RECORDS: dict[str, tuple[type[EmailEvent], str, str]] = {
    "Delivery": (EmailDelivered, "Recipient", "DeliveredAt"),
    "Bounce": (EmailBounced, "Email", "BouncedAt"),
    "SpamComplaint": (EmailMarkedAsSpam, "Email", "BouncedAt"),
    "Open": (EmailOpened, "Recipient", "ReceivedAt"),
    "Click": (EmailLinkClicked, "Recipient", "ReceivedAt"),
    "SubscriptionChange": (EmailUnsubscribed, "Recipient", "ChangedAt"),
}
EVENTS: dict[str, type[EmailEvent]] = {kind: semantic for kind, (semantic, _, _) in RECORDS.items()}


class Postmark(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "postmark"
    docs_url: ClassVar[str] = "https://postmarkapp.com/developer/webhooks/webhooks-overview"
    secret_name: ClassVar[str | None] = BASIC_SECRET
    secret_names: ClassVar[tuple[str, ...]] = (BASIC_SECRET, HEADER_SECRET)
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    ignored_types: ClassVar[Mapping[str, str]] = {
        "Inbound": "an inbound message (Postmark's inbound webhook pointed at this route), not mail you sent",
        **{f"Bounce:{kind}": SOFT_BOUNCE for kind in sorted(SOFT_BOUNCES)},
        **{f"Bounce:{kind}": BLOCKED for kind in sorted(BLOCKS)},
        **{f"Bounce:{kind}": "not a failed delivery of this message to this address (Postmark's bounce types)" for kind in NOT_BOUNCES},
        "Open:not_first": NOT_FIRST_OPEN,
        "SubscriptionChange:resubscribe": RESUBSCRIBED,
        "SubscriptionChange:HardBounce": "the suppression a hard bounce caused: the bounce was reported by its own webhook",
        "SubscriptionChange:SpamComplaint": "the suppression a spam complaint caused: the complaint was reported by its own webhook",
        **{f"SubscriptionChange:ManualSuppression:{origin}": "suppressed by you or Postmark, not by the recipient" for origin in ("Customer", "Admin")},
    }

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.policy = EmailPolicy.from_settings(self.settings, "POSTMARK")
        self.rules = IdentityRules.from_settings(self.settings, "POSTMARK")
        header = self.settings.get(HEADER_SETTING)
        # Per instance: the header is whatever the operator named; it must never be stored.
        self.secret_headers = frozenset({header.strip().lower()}) if header and header.strip() else frozenset()

    def authenticate(self, request: WebhookRequest) -> None:
        basic = self.secret(BASIC_SECRET)
        header_name = (self.settings.get(HEADER_SETTING) or "").strip()
        header_secret = self.secret(HEADER_SECRET)
        if bool(header_name) != bool(header_secret):
            raise NotConfigured(f"{HEADER_SETTING} and {HEADER_SECRET} must be configured together")
        if basic is None and header_secret is None:
            return self.refuse_or_open(BASIC_SECRET, HEADER_SECRET)
        if basic is not None:
            expected = credentials.basic_secret(BASIC_SECRET, basic)
            credentials.require(credentials.basic(request.header("authorization")), expected, "Postmark Basic Authorization header")
        if header_secret is not None:
            credentials.require(request.header(header_name.lower()), header_secret, "Postmark secret header")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """Add the Basic credentials ``key`` (``user:pass``), as Postmark sends those of the webhook URL."""
        return credentials.with_header(request, "authorization", credentials.basic_header(key))

    def translate(self, request: WebhookRequest) -> Translation:
        record = load_json(request.body)
        if not isinstance(record, dict):
            raise InvalidPayload(f"body is a JSON {type(record).__name__}, not a Postmark record")
        kind = record.get("RecordType")
        if not isinstance(kind, str) or not kind:
            raise InvalidPayload("record has no RecordType")
        translation = Translation()
        if kind not in RECORDS:
            not_mapped(translation, kind, self.ignored_types)
        elif (skipped := self._skipped(kind, record, self.policy)) is not None:
            translation.ignored[skipped[:96]] += 1
        else:
            translation.events.append(self._event(kind, record, self.rules))
        return translation

    def _skipped(self, kind: str, record: Mapping[str, Any], policy: EmailPolicy) -> str | None:
        if kind == "Bounce":
            bounce_type = record.get("Type")
            if not isinstance(bounce_type, str) or not bounce_type:
                raise InvalidPayload("Bounce record has no Type")
            if bounce_type in HARD_BOUNCES:
                return None
            if bounce_type in SOFT_BOUNCES:
                return None if policy.soft_bounces_are_bounces else f"Bounce:{bounce_type}"
            if bounce_type in BLOCKS:
                return None if policy.blocks_are_bounces else f"Bounce:{bounce_type}"
            return f"Bounce:{bounce_type}"
        if kind == "Open" and policy.first_opens_only and record.get("FirstOpen") is not True:
            return "Open:not_first"
        if kind == "SubscriptionChange":
            if record.get("SuppressSending") is not True:
                return "SubscriptionChange:resubscribe"
            reason = record.get("SuppressionReason")
            if reason != "ManualSuppression":
                return f"SubscriptionChange:{reason}"
            origin = record.get("Origin")
            if origin != "Recipient":
                return f"SubscriptionChange:ManualSuppression:{origin}"
        return None

    def _event(self, kind: str, record: Mapping[str, Any], rules: IdentityRules) -> EmailEvent:
        where = f"event 0 ({kind})"
        semantic, recipient_field, time_field = RECORDS[kind]
        recipient = address(record.get(recipient_field))
        if recipient is None:
            raise InvalidPayload(f"{where}: no address in {recipient_field}")
        email_id = record.get("MessageID")
        if not isinstance(email_id, str) or not email_id.strip():
            raise InvalidPayload(f"{where}: no MessageID, so no email_id")
        timestamp = timestamp_of(record.get(time_field), f"{where}: {time_field}")

        properties: dict[str, Any] = {"email_id": email_id.strip(), "message_stream": text_or_none(record.get("MessageStream"))}
        traits: dict[str, Any] = {"email": recipient}
        if kind in ("Bounce", "SpamComplaint"):
            properties.update(email_subject=text_or_none(record.get("Subject")))
        if kind == "Bounce":
            properties.update(bounce_type=text_or_none(record.get("Type")), details=text_or_none(record.get("Details")))
        if kind in ("Open", "Click"):
            geo = record.get("Geo") if isinstance(record.get("Geo"), dict) else {}
            traits.update(ip=text_or_none(geo.get("IP")), user_agent=text_or_none(record.get("UserAgent")))
        if kind == "Open" and isinstance(record.get("FirstOpen"), bool):
            properties["first_open"] = record["FirstOpen"]
        if kind == "Click":
            properties["link_url"] = text_or_none(record.get("OriginalLink"))
        if kind == "SubscriptionChange":
            properties["list_id"] = text_or_none(record.get("MessageStream"))

        metadata = record.get("Metadata")
        try:
            identity = rules.resolve(metadata if isinstance(metadata, dict) else {}, recipient)
        except NoIdentity as error:
            raise InvalidPayload(f"{where}: {error}") from None
        record_id = record.get("ID")
        if kind in ("Bounce", "SpamComplaint") and isinstance(record_id, int) and not isinstance(record_id, bool):
            message_id = ids.message_id(self.full_name(), f"{kind}:{record_id}")
        else:
            message_id = ids.message_id_of_content(self.full_name(), record)
        return email_event(semantic, identity, message_id, timestamp, properties, traits, where)


SOURCE = Postmark
