"""One SES email-event record -> Customer.io email semantic events, whatever carried the record.

SES publishes the same record (``eventType`` + ``mail`` + one detail object, or ``notificationType``
in the older identity notifications) over two transports, and both sources map it here, with the
same rules and the same settings (``SES_*``, the email policy under ``SES_``):

- ``ses.py`` (``POST /ses``): the record is the ``Message`` of a signed SNS envelope;
- ``ses_eventbridge.py`` (no URL): the record is the ``detail`` of an EventBridge event on the
  account's default bus, handed to the email ingest function by an EventBridge rule.

Record formats: https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
(event publishing; EventBridge's ``detail`` holds the same object:
https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html) and
https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html (identity notifications).

Mapping (SES ``eventType``, or ``notificationType`` in the older format -> Customer.io event):

    Delivery        -> Email Delivered        one per address in delivery.recipients
    Bounce          -> Email Bounced          one per bouncedRecipients[]; bounceType Transient is a soft
                                              bounce (SES_SOFT_BOUNCES / EMAIL_SOFT_BOUNCES, default: ignored);
                                              bounceSubType Suppressed / OnAccountSuppressionList was never
                                              sent (SES: "did not attempt to deliver"): ignored, not a bounce
    Complaint       -> Email Marked as Spam   one per complainedRecipients[]; not for complaintFeedbackType
                                              "not-spam" nor complaintSubType "OnAccountSuppressionList"
    Open            -> Email Opened           recipient: the message's only destination (see below)
    Click           -> Email Link Clicked     link_url <- click.link, link_tags <- click.linkTags
    Subscription    -> Email Unsubscribed     newTopicPreferences.unsubscribeAll turned on: list_id <- contactList;
                                              a topic newly OptOut: list_id <- the topic (SES_GROUP_UNSUBSCRIBES)
    Send, Reject, Rendering Failure, DeliveryDelay -> ignored (``RECORD_IGNORED_TYPES``)
    anything else   -> unknown: kept (the request goes to the DLQ for a later replay)

Decisions:

- ``email_id`` is ``mail.messageId``, the id SES returned to the sender; it is the same in every event
  of a message. ``mail.commonHeaders.messageId`` is the sender's own Message-ID header, not used.
- One SES record can name several recipients (a delivery, bounce or complaint for several addresses):
  one Customer.io event per recipient, messageId = UUIDv5(source, the transport's delivery id,
  recipient): the SNS ``MessageId`` or the EventBridge event ``id``, both kept on retries. Complaints
  name "everyone who was sent the email whose address is on the domain that issued the complaint
  notification" (SES docs): all of them are reported.
- Open, Click and Subscription records do not say which recipient acted. With exactly one address in
  ``mail.destination`` it is that one; with several the record is counted as ``<type>:several_recipients``
  rather than attributed to a guess (a documented absence, like SendGrid's asynchronous bounces).
- Addresses (``emailAddress``, ``delivery.recipients``, ``mail.destination``) may carry a display
  name ("Name <addr@x.org>"): the address is parsed out (``identity.address``).
- ``bounceType`` Permanent and Undetermined are bounces, except the sub-types SES uses for mail it
  never sent because the address was on its global or the account's suppression list (email policy:
  never-sent is not a bounce; the same rule as SendGrid ``dropped``). Transient ("SES has stopped trying") is a
  soft bounce under the email policy (default: ignored, counted as ``Bounce:Transient``).
  DeliveryDelay is never a bounce: SES is still trying and reports a Transient bounce if it gives up.
- ``ip``/``user_agent`` go to ``context.traits`` for Open and Click only (``open.ipAddress``,
  ``open.userAgent``, ...). A complaint's ``userAgent`` names the ISP's feedback-loop software, not the
  recipient, so it is not a trait.
- Subject: ``mail.commonHeaders.subject`` when SES sends it (it does unless headers are excluded).
- Identity: ``IdentityRules.from_settings(settings, "SES")`` over the message tags (``mail.tags``, each
  tag's first value): the tag named by ``SES_USER_ID_KEYS`` (default ``user_id``; SES tag names allow
  letters, digits, ``_`` and ``-``) gives the userId, else the recipient's address as ``SES_EMAIL_AS``
  (default anonymousId). Tags exist only with event publishing through a configuration set; the
  older identity notifications carry none. Campaign: tags ``SES_CAMPAIGN_ID_KEYS`` (default
  ``campaign_id``) and ``SES_CAMPAIGN_NAME_KEYS`` (default ``campaign_name``).
- Subscription (list management): ``unsubscribeAll`` turning true is the recipient leaving the whole
  contact list, SES's broadest unsubscribe, so it is always an Email Unsubscribed (list_id = the
  contact list). A topic that turns ``OptOut`` while ``unsubscribeAll`` stays false is a topic
  unsubscribe: Email Unsubscribed with list_id = topic and ``contact_list`` when
  ``SES_GROUP_UNSUBSCRIBES`` is ``unsubscribed`` (default), else counted. Opt-ins are counted.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, Mapping

from ... import ids
from ...identity import IdentityRules, NoIdentity, address
from ...semantic.email import (
    EmailBounced,
    EmailDelivered,
    EmailEvent,
    EmailLinkClicked,
    EmailMarkedAsSpam,
    EmailOpened,
    EmailUnsubscribed,
)
from .._translation import email_event, not_mapped, object_or_empty, setting_keys, text_or_none, timestamp_of
from ..base import InvalidPayload, Translation
from ._policy import (
    DELAYED,
    GROUP_UNSUBSCRIBE_OFF,
    NEVER_SENT,
    NOT_YET_SENT,
    PROVIDER_ERROR,
    SEVERAL_RECIPIENTS,
    SOFT_BOUNCE,
    SUPPRESSED_BOUNCE_SUBTYPES,
    EmailPolicy,
)

# SES event type -> Customer.io event (each has its handler in ``SesRecordMapping._HANDLERS``).
EVENTS: dict[str, type[EmailEvent]] = {
    "Delivery": EmailDelivered,
    "Bounce": EmailBounced,
    "Complaint": EmailMarkedAsSpam,
    "Open": EmailOpened,
    "Click": EmailLinkClicked,
    "Subscription": EmailUnsubscribed,
}

# What the mapping leaves out on purpose, whichever transport carried the record.
RECORD_IGNORED_TYPES: dict[str, str] = {
    "Send": NOT_YET_SENT,
    "Reject": "SES rejected the message (it contained a virus): " + NEVER_SENT,
    "Rendering Failure": PROVIDER_ERROR,
    "DeliveryDelay": DELAYED,
    "Bounce:Transient": SOFT_BOUNCE,
    **{f"Bounce:{sub_type}": "a bounce of mail SES never sent (the address was on a suppression list): " + NEVER_SENT for sub_type in sorted(SUPPRESSED_BOUNCE_SUBTYPES)},
    "Complaint:not-spam": "the recipient's mailbox provider reports it as not spam",
    "Complaint:OnAccountSuppressionList": "SES did not send it: the address complained before, reported then",
    **{f"{kind}:several_recipients": SEVERAL_RECIPIENTS for kind in ("Open", "Click", "Subscription")},
    "Subscription:no_opt_out": "a preference change that unsubscribes from nothing (an opt-in)",
    "Subscription:topic_opt_out": GROUP_UNSUBSCRIBE_OFF,
}


@dataclasses.dataclass(frozen=True)
class Recipient:
    """One addressee of an SES record, with what the record says about that addressee."""

    address: str
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    qualifier: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Options:
    """The SES_* settings translation reads, read once per request."""

    rules: IdentityRules
    campaign_id_keys: tuple[str, ...]
    campaign_name_keys: tuple[str, ...]



class SesRecordMapping:
    """The record mapping both SES sources inherit (before ``Source``): call ``_read_mapping_settings``
    in ``__init__``, then ``translate_record`` with the transport's delivery id."""

    ignored_types: ClassVar[Mapping[str, str]]
    # The record types both transports map (the guide's event table, tests/unit/test_event_tables.py).
    mapped_types: ClassVar[Mapping[str, str]] = {kind: event.name for kind, event in EVENTS.items()}
    policy: EmailPolicy
    options: Options

    def _read_mapping_settings(self) -> None:
        settings = self.settings  # type: ignore[attr-defined]
        self.policy = EmailPolicy.from_settings(settings, "SES")
        self.options = Options(
            rules=IdentityRules.from_settings(settings, "SES"),
            campaign_id_keys=setting_keys(settings, "SES_CAMPAIGN_ID_KEYS", "campaign_id"),
            campaign_name_keys=setting_keys(settings, "SES_CAMPAIGN_NAME_KEYS", "campaign_name"),
        )

    def translate_record(self, record: Any, delivery_id: str, translation: Translation) -> Translation:
        """Append the events of one SES record to ``translation``; ``delivery_id`` is the transport's
        own id of this delivery (kept on its retries), from which the messageIds are derived."""
        if not isinstance(record, dict):
            raise InvalidPayload("not an SES record (not a JSON object)")
        kind = record.get("eventType", record.get("notificationType"))
        if not isinstance(kind, str) or not kind:
            raise InvalidPayload("SES record has no eventType or notificationType")
        if kind not in EVENTS:
            not_mapped(translation, kind, self.ignored_types)
            return translation
        handler = self._HANDLERS[kind]
        mail = record.get("mail")
        if not isinstance(mail, dict) or not isinstance(mail.get("messageId"), str) or not mail["messageId"]:
            raise InvalidPayload(f"{kind}: mail.messageId is missing")
        detail = record.get(self._DETAIL[kind])
        if not isinstance(detail, dict):
            raise InvalidPayload(f"{kind}: no {self._DETAIL[kind]} object")
        handler(self, kind, delivery_id, mail, detail, translation, self.options)
        return translation

    # Each handler appends events (or ignored counts) for one SES record.

    def _delivery(self, kind, delivery_id, mail, detail, translation, options) -> None:
        recipients = _strings(detail.get("recipients"), f"{kind}: delivery.recipients")
        for index, raw_address in enumerate(recipients):
            with translation.item(f"{kind} recipient {index}"):
                recipient = Recipient(_parsed(raw_address, f"{kind} recipient {index}"))
                translation.events.append(self._event(EmailDelivered, kind, delivery_id, mail, detail, recipient, options))

    def _bounce(self, kind, delivery_id, mail, detail, translation, options) -> None:
        bounce_type, sub_type = detail.get("bounceType"), detail.get("bounceSubType")
        if sub_type in SUPPRESSED_BOUNCE_SUBTYPES:
            translation.ignored[f"Bounce:{sub_type}"] += 1  # never sent (see the module docstring)
            return
        if bounce_type == "Transient" and not self.policy.soft_bounces_are_bounces:
            translation.ignored["Bounce:Transient"] += 1
            return
        for index, item in enumerate(_objects(detail.get("bouncedRecipients"), f"{kind}: bounce.bouncedRecipients")):
            with translation.item(f"{kind} recipient {index}"):
                details = {
                    "bounce_type": bounce_type,
                    "bounce_sub_type": detail.get("bounceSubType"),
                    "status": item.get("status"),
                    "action": item.get("action"),
                    "diagnostic_code": item.get("diagnosticCode"),
                }
                recipient = Recipient(_address(item, f"{kind} recipient {index}"), details)
                translation.events.append(self._event(EmailBounced, kind, delivery_id, mail, detail, recipient, options))

    def _complaint(self, kind, delivery_id, mail, detail, translation, options) -> None:
        if detail.get("complaintFeedbackType") == "not-spam":
            translation.ignored["Complaint:not-spam"] += 1
            return
        if detail.get("complaintSubType") == "OnAccountSuppressionList":
            # SES did not send the message: the address complained before. Not a new spam report.
            translation.ignored["Complaint:OnAccountSuppressionList"] += 1
            return
        for index, item in enumerate(_objects(detail.get("complainedRecipients"), f"{kind}: complaint.complainedRecipients")):
            with translation.item(f"{kind} recipient {index}"):
                recipient = Recipient(_address(item, f"{kind} recipient {index}"), {"complaint_feedback_type": detail.get("complaintFeedbackType")})
                translation.events.append(self._event(EmailMarkedAsSpam, kind, delivery_id, mail, detail, recipient, options))

    def _open(self, kind, delivery_id, mail, detail, translation, options) -> None:
        address = _sole_destination(mail, kind)
        if address is None:
            translation.ignored[f"{kind}:several_recipients"] += 1
            return
        translation.events.append(self._event(EmailOpened, kind, delivery_id, mail, detail, Recipient(address), options, engaged=True))

    def _click(self, kind, delivery_id, mail, detail, translation, options) -> None:
        address = _sole_destination(mail, kind)
        if address is None:
            translation.ignored[f"{kind}:several_recipients"] += 1
            return
        details = {"link_url": detail.get("link"), "link_tags": detail.get("linkTags")}
        translation.events.append(self._event(EmailLinkClicked, kind, delivery_id, mail, detail, Recipient(address, details), options, engaged=True))

    def _subscription(self, kind, delivery_id, mail, detail, translation, options) -> None:
        address = _sole_destination(mail, kind)
        if address is None:
            translation.ignored[f"{kind}:several_recipients"] += 1
            return
        new = object_or_empty(detail.get("newTopicPreferences"))
        old = object_or_empty(detail.get("oldTopicPreferences"))
        contact_list = detail.get("contactList") if isinstance(detail.get("contactList"), str) else None
        base = {"contact_list": contact_list, "subscription_source": detail.get("source")}
        if new.get("unsubscribeAll") is True and old.get("unsubscribeAll") is not True:
            recipient = Recipient(address, {**base, "list_id": contact_list, "unsubscribe_all": True}, ("unsubscribeAll",))
            translation.events.append(self._event(EmailUnsubscribed, kind, delivery_id, mail, detail, recipient, options))
            return
        was_out = {t.get("topicName") for t in _topic_statuses(old) if t.get("subscriptionStatus") == "OptOut"}
        opted_out = [t["topicName"] for t in _topic_statuses(new) if t.get("subscriptionStatus") == "OptOut" and isinstance(t.get("topicName"), str) and t["topicName"] not in was_out]
        if not opted_out:
            translation.ignored[f"{kind}:no_opt_out"] += 1
            return
        if not self.policy.group_unsubscribes_count:
            translation.ignored[f"{kind}:topic_opt_out"] += len(opted_out)
            return
        for topic in opted_out:
            recipient = Recipient(address, {**base, "list_id": topic}, ("topic", topic))
            translation.events.append(self._event(EmailUnsubscribed, kind, delivery_id, mail, detail, recipient, options))

    _HANDLERS: ClassVar[dict[str, Callable[..., None]]] = {
        "Delivery": _delivery,
        "Bounce": _bounce,
        "Complaint": _complaint,
        "Open": _open,
        "Click": _click,
        "Subscription": _subscription,
    }
    _DETAIL: ClassVar[dict[str, str]] = {
        "Delivery": "delivery",
        "Bounce": "bounce",
        "Complaint": "complaint",
        "Open": "open",
        "Click": "click",
        "Subscription": "subscription",
    }

    def _event(
        self,
        semantic: type[EmailEvent],
        kind: str,
        delivery_id: str,
        mail: Mapping[str, Any],
        detail: Mapping[str, Any],
        recipient: Recipient,
        options: Options,
        *,
        engaged: bool = False,
    ) -> EmailEvent:
        where = f"{kind} record"
        tags = _flat_tags(mail.get("tags"))
        headers = object_or_empty(mail.get("commonHeaders"))
        properties: dict[str, Any] = {
            "email_id": mail["messageId"],
            "email_subject": headers.get("subject") if isinstance(headers.get("subject"), str) else None,
            "campaign_id": _first(tags, options.campaign_id_keys),
            "campaign_name": _first(tags, options.campaign_name_keys),
            **recipient.details,
        }
        traits: dict[str, Any] = {"email": recipient.address}
        if engaged:
            traits.update(ip=text_or_none(detail.get("ipAddress")), user_agent=text_or_none(detail.get("userAgent")))
        try:
            identity = options.rules.resolve(tags, recipient.address)
        except NoIdentity as error:
            raise InvalidPayload(f"{where}: {error}") from None
        timestamp = timestamp_of(detail.get("timestamp"), f"{where}")
        message_id = ids.message_id(self.full_name(), delivery_id, recipient.address, *recipient.qualifier)  # type: ignore[attr-defined]
        return email_event(semantic, identity, message_id, timestamp, properties, traits, where)



def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InvalidPayload(f"{where} is not a list of addresses")
    return value


def _objects(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise InvalidPayload(f"{where} is not a list of recipients")
    return value


def _address(item: Mapping[str, Any], where: str) -> str:
    if not isinstance(item.get("emailAddress"), str) or not item["emailAddress"]:
        raise InvalidPayload(f"{where}: no emailAddress")
    return _parsed(item["emailAddress"], where)


def _parsed(value: str, where: str) -> str:
    """The address in ``value`` (a display name is dropped), else ``InvalidPayload``."""
    parsed = address(value)
    if parsed is None:
        raise InvalidPayload(f"{where}: not one email address")
    return parsed


def _sole_destination(mail: Mapping[str, Any], kind: str) -> str | None:
    destination = _strings(mail.get("destination"), f"{kind}: mail.destination")
    return _parsed(destination[0], f"{kind}: mail.destination") if len(destination) == 1 else None


def _topic_statuses(preferences: Mapping[str, Any]) -> list[dict[str, Any]]:
    statuses = preferences.get("topicSubscriptionStatus")
    return [s for s in statuses if isinstance(s, dict)] if isinstance(statuses, list) else []


def _flat_tags(tags: Any) -> dict[str, str]:
    """SES tags are ``{name: [values]}``; each tag's first value, as identity and campaign read them."""
    if not isinstance(tags, dict):
        return {}
    flat = {}
    for name, values in tags.items():
        if isinstance(values, list) and values and isinstance(values[0], str):
            flat[name] = values[0]
        elif isinstance(values, str):
            flat[name] = values
    return flat


def _first(values: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    return next((values[k] for k in keys if values.get(k)), None)
