"""The email policy: one rule per concept, the same for every email provider.

The rules themselves, with each provider's event names, are in docs/sources/email-policy.md.
This module holds what a user may change and the helpers every email source applies them with.

Each choice is a setting, read per provider first (``<NAME>_<SETTING>``) and then for all email
sources (``EMAIL_<SETTING>``), with the default below. Read once, when the source is built; a
value not listed raises ``ConfigurationError`` naming the setting.

| setting            | values                 | default  | meaning |
|--------------------|------------------------|----------|---------|
| SOFT_BOUNCES       | ignore, bounce         | ignore   | a transient/soft bounce or deferral is not yet a bounce: the provider retries it |
| BLOCKS             | ignore, bounce         | ignore   | a block (the receiver refused the sender or content, not the address) is not a bounce: providers do not suppress the address after it |
| GROUP_UNSUBSCRIBES | unsubscribed, ignore   | unsubscribed | unsubscribing from one group/topic/list is an Email Unsubscribed (with list_id) |
| OPENS              | all, first             | all      | "first": only a provider's first/unique open of a message becomes Email Opened |
| MACHINE_OPENS      | keep, drop             | keep     | opens the provider flags as machine/privacy-proxy (Apple MPP) opens; kept, flagged in properties |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...config import ConfigurationError

CHOICES = {
    "SOFT_BOUNCES": ("ignore", "bounce"),
    "BLOCKS": ("ignore", "bounce"),
    "GROUP_UNSUBSCRIBES": ("unsubscribed", "ignore"),
    "OPENS": ("all", "first"),
    "MACHINE_OPENS": ("keep", "drop"),
}

# Reasons shared by every email source's ``ignored_types`` (one wording per concept).
NEVER_SENT = "never sent (suppressed, rejected or dropped before delivery was tried): not a bounce"
NOT_YET_SENT = "accepted or queued by the provider: nothing has reached the recipient yet (Email Delivered follows)"
DELAYED = "a delivery delay the provider keeps retrying: not a bounce (the provider reports a bounce if it gives up)"
BLOCKED = "a block: the receiver refused the sender or content, not the address; providers do not suppress after it (EMAIL_BLOCKS=bounce to count it)"
RESUBSCRIBED = "a resubscription: Customer.io has no semantic event for it"
PROVIDER_ERROR = "a failure inside the provider (rendering, template, API): the recipient never got a message"
# Reasons for what the user's policy settings leave out (keys "<type>:<why>" in Translation.ignored).
SOFT_BOUNCE = "a soft bounce: not a bounce unless EMAIL_SOFT_BOUNCES (or <NAME>_SOFT_BOUNCES) is bounce"
NOT_FIRST_OPEN = "not a first open, and EMAIL_OPENS (or <NAME>_OPENS) is first"
MACHINE_OPEN_DROPPED = "a machine or proxy open, and EMAIL_MACHINE_OPENS (or <NAME>_MACHINE_OPENS) is drop"
GROUP_UNSUBSCRIBE_OFF = "a group, topic or list unsubscribe, and EMAIL_GROUP_UNSUBSCRIBES (or <NAME>_GROUP_UNSUBSCRIBES) is ignore"
SEVERAL_RECIPIENTS = "the provider does not say which of the message's several recipients acted: not attributed to a guess"
NO_RECIPIENT = "names nobody: no recipient address and no user id in its metadata"
MACHINE_OPEN_PROPERTY = "machine_open"  # the one property that flags a machine or proxy open
# Bounce sub-types (Amazon SES, and Resend which reports SES's) of mail that was never sent: the
# address was on a suppression list. Never-sent is not a bounce, whatever the ``bounceType``.
SUPPRESSED_BOUNCE_SUBTYPES = frozenset({"Suppressed", "OnAccountSuppressionList"})


@dataclass(frozen=True)
class EmailPolicy:
    soft_bounces: str = "ignore"
    blocks: str = "ignore"
    group_unsubscribes: str = "unsubscribed"
    opens: str = "all"
    machine_opens: str = "keep"

    @classmethod
    def from_settings(cls, settings: Any, prefix: str) -> EmailPolicy:
        """The policy for provider ``prefix`` (e.g. "SENDGRID"); ``ConfigurationError`` on a bad value."""
        values = {}
        for setting, allowed in CHOICES.items():
            name = f"{prefix}_{setting}" if settings.get(f"{prefix}_{setting}") else f"EMAIL_{setting}"
            values[setting.lower()] = choice(settings, name, allowed)
        return cls(**values)

    @property
    def soft_bounces_are_bounces(self) -> bool:
        return self.soft_bounces == "bounce"

    @property
    def blocks_are_bounces(self) -> bool:
        return self.blocks == "bounce"

    @property
    def group_unsubscribes_count(self) -> bool:
        return self.group_unsubscribes == "unsubscribed"

    @property
    def first_opens_only(self) -> bool:
        return self.opens == "first"

    @property
    def drop_machine_opens(self) -> bool:
        return self.machine_opens == "drop"


def choice(settings: Any, name: str, allowed: tuple[str, ...]) -> str:
    """Setting ``name`` (case-insensitive), one of ``allowed`` (the first is the default);
    ``ConfigurationError`` naming the setting otherwise."""
    value = (settings.get(name) or allowed[0]).strip().lower()
    if value not in allowed:
        raise ConfigurationError(f"CIOHOOKS_{name} must be one of {', '.join(allowed)}")
    return value

