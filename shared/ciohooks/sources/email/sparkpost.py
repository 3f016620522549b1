"""SparkPost event webhooks -> Customer.io email semantic events.

SparkPost POSTs batches: a JSON array of ``{"msys": {"<event class>": {"type": ..., ...}}}``, up to
350+ events of mixed classes. Webhooks are not signed: a webhook authenticates with HTTP Basic
credentials (``auth_type: basic``), an OAuth 2.0 bearer token (``oauth2``), or, for webhooks made
before it was deprecated, an ``auth_token`` sent as ``X-MessageSystems-Webhook-Token``.

- Webhooks API (event types, auth_type, auth_token, validation batch): https://developers.sparkpost.com/api/webhooks/
- Authentication: https://support.sparkpost.com/docs/tech-resources/webhook-authentication
  (source: github.com/SparkPost/support-docs, content/docs/tech-resources/webhook-authentication.md)
- Event reference: https://support.sparkpost.com/docs/tech-resources/webhook-event-reference
- Bounce classes: https://support.sparkpost.com/docs/deliverability/bounce-classification-codes
  (github.com/SparkPost/support-docs content/docs/deliverability/bounce-classification-codes.md)

Mapping (event class / ``type`` -> Customer.io event):

    message_event delivery               -> Email Delivered
    message_event bounce, out_of_band    -> by ``bounce_class`` and SparkPost's classification table:
        Hard  (10, 30)                       -> Email Bounced (bounce_class, reason, error_code)
        Soft  (20-24, 40, 70) and Undetermined (1)
                                             -> soft: ignored "bounce:soft" unless SPARKPOST_SOFT_BOUNCES=bounce
                                                (SparkPost: "soft, block and undetermined are usually temporary")
        Block (50-54)                        -> block: ignored "bounce:block" unless SPARKPOST_BLOCKS=bounce
                                                (email policy: a block is not a bounce)
        Admin (25)                           -> ignored "bounce:admin": SparkPost's own policy refused the
                                                message (e.g. a suppressed recipient), nothing bounced
        60 Auto-Reply, 80 Subscribe, 90 Unsubscribe, 100 Challenge-Response (SparkPost files them
        under Soft, Admin, Hard, Soft)       -> ignored "bounce:<name>": a reply the receiver sent, not a
                                                failed delivery (email policy; django-anymail reads them
                                                as auto-replies and (un)subscribe requests too). An
                                                unsubscribe request made through the list-unsubscribe
                                                header arrives as list_unsubscribe.
        a class not in the table             -> that event fails (kept in the DLQ with the request) until
                                                the table is updated; the others of the batch are sent
    message_event spam_complaint         -> Email Marked as Spam
    track_event click, amp_click         -> Email Link Clicked (link_url <- target_link_url)
    track_event open, amp_open           -> Email Opened (SPARKPOST_OPEN_TYPES, see below)
    track_event initial_open, amp_initial_open -> ignored by default (see below)
    unsubscribe_event list_unsubscribe, link_unsubscribe -> Email Unsubscribed
    injection, delay, policy_rejection, generation_*, relay_*, ab_test_*, ingest success/error,
    sms_status                           -> ignored (``ignored_types``, each with its reason)
    anything else                        -> unknown: kept (the request goes to the DLQ for a later replay)

The table in docs/sources/sparkpost.md is checked against ``EVENTS`` and ``ignored_types``.
    ``{"msys": {}}``                      -> the validation batch SparkPost posts when a webhook is created
                                            or tested: answered 200 before authentication, nothing queued

Opens: ``open`` is the tracking pixel at the BOTTOM of the message, ``initial_open`` the one at the
TOP ("Recipient opened a message in a mail client, thus rendering a tracking pixel at the top of the
message"). One view of a message usually loads both, so translating both would count each open
twice. SPARKPOST_OPEN_TYPES (default ``open,amp_open``) names the types that become Email Opened;
``initial_open,amp_initial_open`` instead counts opens of messages a client clipped before the
bottom pixel (Gmail clips long messages). Anymail makes the same choice by default.
OPENS=first cannot apply: SparkPost sends no first/unique-open flag (``initial_open`` is the top
pixel, not the first open). MACHINE_OPENS: an open whose ``user_agent_parsed.is_prefetched`` is true
(a privacy proxy fetched the pixel) is dropped with SPARKPOST_MACHINE_OPENS=drop ("open:prefetched"),
else kept with ``machine_open: true``. GROUP_UNSUBSCRIBES cannot apply: SparkPost's unsubscribe
events do not name a list.

Decisions:

- ``email_id`` is ``message_id``: SparkPost's id of the message to one recipient, carried by
  every delivery and engagement event of it. SPARKPOST_EMAIL_ID=transmission_id uses the id the
  Transmissions API returns instead (shared by all recipients of one API call).
- ``messageId`` is the UUIDv5 of ``event_id`` and the event ``type`` (the event id format "is not
  consistent across events": a big integer for some types, a UUID for others; SparkPost's sample
  events all share one id). The body is parsed with integers kept as text, so no id loses digits.
- Identity: ``IdentityRules.from_settings(settings, "SPARKPOST")`` over ``rcpt_meta`` (default key
  ``user_id``), else ``rcpt_to`` (or ``raw_rcpt_to``) as SPARKPOST_EMAIL_AS says. AMP engagement
  events (amp_open, amp_initial_open, amp_click) may come without ``rcpt_to``: with a user id in
  ``rcpt_meta`` they are sent without an email trait, else counted as ``<type>:no_rcpt_to`` (a
  documented absence, like Brevo's proxy opens without ``email``), never sinking the batch. The address goes to
  ``context.traits.email``; ``ip_address`` and ``user_agent`` go to traits on track events and
  link_unsubscribe when sent (on message events ``ip_address`` is the receiving MTA's address).
- ``subject`` -> ``email_subject`` and ``campaign_id`` -> ``campaign_id`` when sent.
- Authentication (fail closed), any configured method that matches is enough, because one
  endpoint may serve several SparkPost webhooks: SPARKPOST_BASIC_AUTH (secret, ``user:pass``, the
  webhook's Basic credentials) and/or SPARKPOST_WEBHOOK_TOKEN (secret, the legacy
  ``X-MessageSystems-Webhook-Token``), compared in constant time (``_credentials.py``); a
  SPARKPOST_BASIC_AUTH without ``:`` is not configured (503). OAuth 2.0 is not supported: it needs
  a token endpoint.
- Answer codes: SparkPost retries anything but 200 for 8 hours, so everything accepted is 200;
  a bad credential is 401 (also SparkPost's signal to refresh an OAuth token).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Mapping

from ... import ids
from ...config import ConfigurationError, Settings
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
from .._translation import EventBatch, email_fields, load_json, not_mapped, text_or_none, timestamp_of
from ..base import InvalidPayload, Reply, Source, Translation, Unauthorized
from ._policy import (
    BLOCKED,
    DELAYED,
    MACHINE_OPEN_DROPPED,
    MACHINE_OPEN_PROPERTY,
    NEVER_SENT,
    NO_RECIPIENT,
    NOT_YET_SENT,
    PROVIDER_ERROR,
    SOFT_BOUNCE,
    EmailPolicy,
    choice,
)

BASIC_SECRET = "SPARKPOST_BASIC_AUTH"
TOKEN_SECRET = "SPARKPOST_WEBHOOK_TOKEN"
TOKEN_HEADER = "x-messagesystems-webhook-token"
DEFAULT_OPEN_TYPES = ("open", "amp_open")

# SparkPost's bounce classification table: class -> category.
# Classes that are replies, not failed deliveries (not bounces, whatever SparkPost's category says).
NOT_DELIVERY_FAILURES: dict[str, str] = {"60": "auto_reply", "80": "subscribe_request", "90": "unsubscribe_request", "100": "challenge_response"}
BOUNCE_CATEGORIES: dict[str, str] = {
    "1": "undetermined",
    "10": "hard", "30": "hard", "90": "hard",
    "20": "soft", "21": "soft", "22": "soft", "23": "soft", "24": "soft", "40": "soft",
    "60": "soft", "70": "soft", "100": "soft",
    "25": "admin", "80": "admin",
    "50": "block", "51": "block", "52": "block", "53": "block", "54": "block",
}  # fmt: skip
CLICKS = frozenset({"click", "amp_click"})
OPENS = frozenset({"open", "amp_open", "initial_open", "amp_initial_open"})
UNSUBSCRIBES = frozenset({"list_unsubscribe", "link_unsubscribe"})
BOUNCES = frozenset({"bounce", "out_of_band"})
AMP = frozenset({"amp_open", "amp_initial_open", "amp_click"})
# SparkPost event ``type`` -> Customer.io event (types are unique across SparkPost's event classes).
EVENTS: dict[str, type[EmailEvent]] = {
    "delivery": EmailDelivered,
    "bounce": EmailBounced,
    "out_of_band": EmailBounced,
    "spam_complaint": EmailMarkedAsSpam,
    **dict.fromkeys(sorted(CLICKS), EmailLinkClicked),
    **dict.fromkeys(sorted(OPENS), EmailOpened),
    **dict.fromkeys(sorted(UNSUBSCRIBES), EmailUnsubscribed),
}
VALIDATION_BATCH = [{"msys": {}}]


def parse_batch(body: bytes) -> list[dict[str, Any]]:
    """The batch as a list of ``msys`` objects; integers stay text so big ids keep every digit."""
    batch = load_json(body, parse_int=str)
    if not isinstance(batch, list):
        raise InvalidPayload(f"body is a JSON {type(batch).__name__}, not an array of events")
    found = []
    for index, item in enumerate(batch):
        msys = item.get("msys") if isinstance(item, dict) else None
        if not isinstance(msys, dict):
            raise InvalidPayload(f"event {index} has no msys object")
        found.append(msys)
    return found


class SparkPost(Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "sparkpost"
    docs_url: ClassVar[str] = "https://developers.sparkpost.com/api/webhooks/"
    secret_name: ClassVar[str | None] = BASIC_SECRET
    secret_names: ClassVar[tuple[str, ...]] = (BASIC_SECRET, TOKEN_SECRET)
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    ignored_types: ClassVar[Mapping[str, str]] = {
        "empty": "the validation batch ({\"msys\": {}}) SparkPost posts when a webhook is created or tested",
        "injection": NOT_YET_SENT,
        "delay": DELAYED,
        "policy_rejection": NEVER_SENT,
        "generation_failure": PROVIDER_ERROR,
        "generation_rejection": NEVER_SENT,
        "sms_status": "an SMS status: not email",
        **{kind: "relayed inbound mail (relay webhooks), not mail you sent" for kind in ("relay_injection", "relay_rejection", "relay_delivery", "relay_tempfail", "relay_permfail")},
        **{kind: "an A/B test's outcome, about no recipient" for kind in ("ab_test_completed", "ab_test_cancelled")},
        **{kind: "a report on events uploaded through the Ingest API, about no recipient" for kind in ("success", "error")},
        **{f"{kind}:soft": SOFT_BOUNCE + " (SparkPost classes soft and undetermined)" for kind in sorted(BOUNCES)},
        **{f"{kind}:block": BLOCKED + " (SparkPost classes 50-54)" for kind in sorted(BOUNCES)},
        **{f"{kind}:admin": "SparkPost's own policy refused the message (class 25): " + NEVER_SENT for kind in sorted(BOUNCES)},
        **{f"{kind}:{reply}": "a reply the receiver sent (auto-reply, challenge, subscribe or unsubscribe request), not a failed delivery" for kind in sorted(BOUNCES) for reply in NOT_DELIVERY_FAILURES.values()},
        **{f"{kind}:not_counted": "an open pixel not named in SPARKPOST_OPEN_TYPES (default open,amp_open): one view loads two pixels" for kind in sorted(OPENS)},
        **{f"{kind}:prefetched": MACHINE_OPEN_DROPPED for kind in sorted(OPENS)},
        **{f"{kind}:no_rcpt_to": NO_RECIPIENT + " (AMP events may come without rcpt_to)" for kind in sorted(AMP)},
    }
    secret_headers: ClassVar[frozenset[str]] = frozenset({TOKEN_HEADER})

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.policy = EmailPolicy.from_settings(self.settings, "SPARKPOST")
        self.open_types = frozenset(self.settings.get_list("SPARKPOST_OPEN_TYPES") or DEFAULT_OPEN_TYPES)
        if unknown_types := self.open_types - OPENS:
            raise ConfigurationError(f"CIOHOOKS_SPARKPOST_OPEN_TYPES names {len(unknown_types)} type(s) that are not SparkPost opens ({', '.join(sorted(OPENS))})")
        self.rules = IdentityRules.from_settings(self.settings, "SPARKPOST")
        self.id_field = choice(self.settings, "SPARKPOST_EMAIL_ID", ("message_id", "transmission_id"))

    def reply_before_auth(self, request: WebhookRequest) -> Reply | None:
        # The validation batch holds no data; a non-200 would make SparkPost refuse the webhook.
        if request.method == "POST":
            try:
                if loads_json(request.body) == VALIDATION_BATCH:
                    return Reply(200, "")
            except (UnicodeDecodeError, json.JSONDecodeError):
                return None
        return None

    def authenticate(self, request: WebhookRequest) -> None:
        basic, token = self.secret(BASIC_SECRET), self.secret(TOKEN_SECRET)
        if basic is None and token is None:
            return self.refuse_or_open(BASIC_SECRET, TOKEN_SECRET)
        checks = []  # (presented, expected, what): any configured method that matches is enough
        if basic is not None:
            expected = credentials.basic_secret(BASIC_SECRET, basic)
            checks.append((credentials.basic(request.header("authorization")), expected, "SparkPost Basic Authorization header"))
        if token is not None:
            checks.append((request.header(TOKEN_HEADER), token, "SparkPost webhook token"))
        failures = []
        for presented, expected, what in checks:
            try:
                credentials.require(presented, expected, what)
                return
            except Unauthorized as error:
                failures.append(str(error))
        raise Unauthorized("; ".join(failures))

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """Add the webhook's Basic credentials ``key`` (``user:pass``), as SparkPost sends them."""
        return credentials.with_header(request, "authorization", credentials.basic_header(key))

    def translate(self, request: WebhookRequest) -> Translation:
        translation = Translation()
        with EventBatch(translation) as batch:  # validated per event type when the loop is done
            for index, msys in enumerate(parse_batch(request.body)):
                with translation.item(f"event {index}"):
                    kind, event = _typed(index, msys)
                    where = f"event {index} ({kind})"
                    if kind not in EVENTS:
                        not_mapped(translation, kind, self.ignored_types)
                    elif (skipped := self._skipped(where, kind, event, self.policy, self.open_types)) is not None:
                        translation.ignored[skipped] += 1
                    elif (fields := self._fields(where, kind, event, self.rules, self.id_field)) is None:
                        translation.ignored[f"{kind}:no_rcpt_to"] += 1  # documented absence (see the docstring)
                    else:
                        batch.add(EVENTS[kind], fields, where)
        return translation

    def _skipped(self, where: str, kind: str, event: Mapping[str, Any], policy: EmailPolicy, open_types: frozenset[str]) -> str | None:
        if kind in BOUNCES:
            bounce_class = event.get("bounce_class")
            category = BOUNCE_CATEGORIES.get(str(bounce_class)) if bounce_class is not None else None
            if category is None:
                raise InvalidPayload(f"{where}: bounce_class missing or not in SparkPost's classification table")
            if (reply := NOT_DELIVERY_FAILURES.get(str(bounce_class))) is not None:
                return f"{kind}:{reply}"
            if category == "hard":
                return None
            if category in ("soft", "undetermined"):
                return None if policy.soft_bounces_are_bounces else f"{kind}:soft"
            if category == "block":
                return None if policy.blocks_are_bounces else f"{kind}:block"
            return f"{kind}:admin"
        if kind in OPENS:
            if kind not in open_types:
                return f"{kind}:not_counted"
            if _prefetched(event) and policy.drop_machine_opens:
                return f"{kind}:prefetched"
        return None

    def _fields(self, where: str, kind: str, event: Mapping[str, Any], rules: IdentityRules, id_field: str) -> dict[str, Any] | None:
        """What the event's model validates (``EventBatch``); None for a documented absence."""
        recipient = address(event.get("rcpt_to")) or address(event.get("raw_rcpt_to"))
        meta = event.get("rcpt_meta")
        if recipient is None and not (kind in AMP and _has_user_id(rules, meta)):
            if kind in AMP:
                return None
            raise InvalidPayload(f"{where}: no address in rcpt_to")
        email_id = event.get(id_field)
        if not isinstance(email_id, str) or not email_id:
            raise InvalidPayload(f"{where}: no {id_field}, so no email_id")
        timestamp = timestamp_of(event.get("timestamp"), f"{where}")

        properties: dict[str, Any] = {
            "email_id": email_id,
            "email_subject": text_or_none(event.get("subject")),
            "campaign_id": text_or_none(event.get("campaign_id")),
        }
        traits: dict[str, Any] = {"email": recipient}
        if kind in CLICKS or kind in OPENS or kind == "link_unsubscribe":
            traits.update(ip=text_or_none(event.get("ip_address")), user_agent=text_or_none(event.get("user_agent")))
        if kind in CLICKS:
            properties["link_url"] = text_or_none(event.get("target_link_url"))
        if kind in OPENS:
            properties["sparkpost_type"] = kind
            if _prefetched(event):
                properties[MACHINE_OPEN_PROPERTY] = True
        if kind in BOUNCES:
            properties.update(bounce_class=str(event.get("bounce_class")), reason=text_or_none(event.get("reason")), error_code=text_or_none(event.get("error_code")))

        try:
            identity = rules.resolve(meta if isinstance(meta, dict) else {}, recipient)
        except NoIdentity as error:
            raise InvalidPayload(f"{where}: {error}") from None
        event_id = event.get("event_id")
        message_id = (
            ids.message_id(self.full_name(), event_id, kind)
            if isinstance(event_id, str) and event_id
            else ids.message_id_of_content(self.full_name(), event)
        )
        return email_fields(identity, message_id, timestamp, properties, traits)


def _typed(index: int, msys: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event's ``type`` and fields (``"empty"`` for the validation batch's ``{}``)."""
    if not msys:
        return "empty", {}
    if len(msys) != 1:
        raise InvalidPayload(f"event {index}: msys holds {len(msys)} event classes, not one")
    ((event_class, event),) = msys.items()
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not event["type"]:
        raise InvalidPayload(f"event {index} ({event_class[:32]}) has no type")
    return event["type"][:64], event


def _has_user_id(rules: IdentityRules, meta: Any) -> bool:
    try:
        rules.resolve(meta if isinstance(meta, dict) else {}, None)
    except NoIdentity:
        return False
    return True


def _prefetched(event: Mapping[str, Any]) -> bool:
    parsed = event.get("user_agent_parsed")
    return isinstance(parsed, dict) and parsed.get("is_prefetched") is True


SOURCE = SparkPost
