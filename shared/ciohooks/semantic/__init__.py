"""Pydantic models of Customer.io's 38 semantic events, grouped like the seed specs."""

from .base import Context, Open, SemanticEvent, Traits
from .email import (
    EMAIL_EVENTS,
    EmailBounced,
    EmailDelivered,
    EmailLinkClicked,
    EmailMarkedAsSpam,
    EmailOpened,
    EmailProperties,
    EmailUnsubscribed,
)

__all__ = [
    "Context",
    "EMAIL_EVENTS",
    "EmailBounced",
    "EmailDelivered",
    "EmailLinkClicked",
    "EmailMarkedAsSpam",
    "EmailOpened",
    "EmailProperties",
    "EmailUnsubscribed",
    "Open",
    "SemanticEvent",
    "Traits",
]
