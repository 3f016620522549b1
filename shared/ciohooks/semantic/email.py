"""Email semantic events (spec: ``specs/email-events.openapi.json``).

https://docs.customer.io/integrations/data-in/semantic-events/email/
"""

from __future__ import annotations

from typing import ClassVar

from .base import Context, NonEmptyStr, Open, SemanticEvent


class EmailProperties(Open):
    email_id: NonEmptyStr
    email_subject: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None


class EmailLinkClickedProperties(EmailProperties):
    link_id: str | None = None
    link_url: str | None = None


class EmailUnsubscribedProperties(EmailProperties):
    list_id: str | None = None
    list_name: str | None = None


class EmailEvent(SemanticEvent):
    properties: EmailProperties
    context: Context | None = None


class EmailBounced(EmailEvent):
    name: ClassVar[str] = "Email Bounced"


class EmailDelivered(EmailEvent):
    name: ClassVar[str] = "Email Delivered"


class EmailLinkClicked(EmailEvent):
    name: ClassVar[str] = "Email Link Clicked"
    properties: EmailLinkClickedProperties


class EmailMarkedAsSpam(EmailEvent):
    name: ClassVar[str] = "Email Marked as Spam"


class EmailOpened(EmailEvent):
    name: ClassVar[str] = "Email Opened"


class EmailUnsubscribed(EmailEvent):
    name: ClassVar[str] = "Email Unsubscribed"
    properties: EmailUnsubscribedProperties


EMAIL_EVENTS: tuple[type[EmailEvent], ...] = (
    EmailBounced,
    EmailDelivered,
    EmailLinkClicked,
    EmailMarkedAsSpam,
    EmailOpened,
    EmailUnsubscribed,
)
