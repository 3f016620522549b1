"""Who an event is about: exactly one of ``userId`` or ``anonymousId``, by documented rules.

Rules, in order (each source documents which metadata it reads):
1. the first non-empty value among the configured metadata keys (e.g. a SendGrid custom arg)
   becomes ``userId``;
2. otherwise the recipient's email address (or a device id, for mobile sources) becomes the
   ``userId`` or the ``anonymousId``, as configured (``EMAIL_AS``; default ``anonymousId``, as
   Segment and Customer.io's own Segment source do, so unknown recipients never create people).
Nothing is invented: with neither, the event cannot be sent and translation fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

IdField = Literal["userId", "anonymousId"]


class NoIdentity(ValueError):
    """The payload names nobody the event could be attributed to."""


@dataclass(frozen=True)
class IdentityRules:
    user_id_keys: tuple[str, ...] = ("user_id",)
    fallback_as: IdField = "anonymousId"

    def resolve(self, metadata: Mapping[str, Any] | None, fallback: str | None) -> dict[str, str]:
        for key in self.user_id_keys:
            value = (metadata or {}).get(key)
            if value not in (None, "") and not isinstance(value, dict | list):
                return {"userId": str(value)}
        if fallback:
            return {self.fallback_as: fallback}
        raise NoIdentity("no user id and no address to identify the recipient by")

    @classmethod
    def from_settings(cls, settings: Any, prefix: str, default_keys: tuple[str, ...] = ("user_id",)) -> IdentityRules:
        """Read ``<PREFIX>_USER_ID_KEYS`` (comma-separated) and ``<PREFIX>_EMAIL_AS`` (or ``_ID_AS``)."""
        keys = settings.get(f"{prefix}_USER_ID_KEYS")
        fallback = settings.get(f"{prefix}_EMAIL_AS") or settings.get(f"{prefix}_ID_AS") or "anonymousId"
        if fallback not in ("userId", "anonymousId"):
            raise ValueError(f"{prefix}_EMAIL_AS must be userId or anonymousId, not {fallback!r}")
        parsed = tuple(k.strip() for k in keys.split(",") if k.strip()) if keys is not None else default_keys
        return cls(user_id_keys=parsed, fallback_as=fallback)
