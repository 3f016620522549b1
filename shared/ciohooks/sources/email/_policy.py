"""Email policy choices a user may want to change, the same for every email provider.

Each is a setting, read per provider first (``<NAME>_<SETTING>``) and then for all email sources
(``EMAIL_<SETTING>``), with the default below:

| setting            | values                 | default  | meaning |
|--------------------|------------------------|----------|---------|
| SOFT_BOUNCES       | ignore, bounce         | ignore   | a transient/soft bounce or deferral is not yet a bounce: the provider retries it |
| BLOCKS             | bounce, ignore         | bounce   | a block (receiver refused the sender, e.g. SendGrid "blocked") counts as Email Bounced |
| GROUP_UNSUBSCRIBES | unsubscribed, ignore   | unsubscribed | unsubscribing from one group/topic/list is an Email Unsubscribed (with list_id) |
| OPENS              | all, first             | all      | "first": only a provider's first/unique open of a message becomes Email Opened |
| MACHINE_OPENS      | keep, drop             | keep     | opens the provider flags as machine/privacy-proxy (Apple MPP) opens; kept, flagged in properties |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHOICES = {
    "SOFT_BOUNCES": ("ignore", "bounce"),
    "BLOCKS": ("bounce", "ignore"),
    "GROUP_UNSUBSCRIBES": ("unsubscribed", "ignore"),
    "OPENS": ("all", "first"),
    "MACHINE_OPENS": ("keep", "drop"),
}


@dataclass(frozen=True)
class EmailPolicy:
    soft_bounces: str = "ignore"
    blocks: str = "bounce"
    group_unsubscribes: str = "unsubscribed"
    opens: str = "all"
    machine_opens: str = "keep"

    @classmethod
    def from_settings(cls, settings: Any, prefix: str) -> EmailPolicy:
        values = {}
        for setting, allowed in CHOICES.items():
            value = (settings.get(f"{prefix}_{setting}") or settings.get(f"EMAIL_{setting}") or allowed[0]).strip().lower()
            if value not in allowed:
                raise ValueError(f"{prefix}_{setting} must be one of {', '.join(allowed)}")
            values[setting.lower()] = value
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
