"""Who an event is about: exactly one of ``userId`` or ``anonymousId``, by documented rules.

Rules, in order (each source documents which metadata it reads):
1. the first non-empty value among the configured metadata keys (e.g. a SendGrid custom arg)
   becomes ``userId``;
2. otherwise the recipient's email address (or a device id, for mobile sources) becomes the
   ``userId`` or the ``anonymousId``, as configured (``EMAIL_AS``; default ``anonymousId``, as
   Segment and Customer.io's own Segment source do, so unknown recipients never create people).
Nothing is invented: with neither, the event cannot be sent and translation fails loudly.

Email addresses (``address``): a provider may give a recipient as ``"Name <addr@x.org>"`` (Resend
echoes the ``to`` of the send), with spaces, or in capitals. The address is parsed with the
standard library's RFC 5322 parser (``email.utils.getaddresses``), the display name is dropped
(never an id or a trait), and the whole address is lower-cased: the domain is case-insensitive
(RFC 5321 §2.4) and, although a local part may in theory be case-sensitive, no mailbox provider
treats it so; one person must not become two ids because one provider echoes the case the sender
typed. A value that holds no address, or several, is not an address (``None``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any, Literal, Mapping

from .config import ConfigurationError

IdField = Literal["userId", "anonymousId"]


class NoIdentity(ValueError):
    """The payload names nobody the event could be attributed to."""


# A bare addr-spec of dot-atoms (what providers send nearly always): the parser would return it
# unchanged, so it is only lower-cased; anything else (a display name, quotes, comments, several
# addresses) goes through the parser. tests/unit/test_email_policy.py holds the two paths equal.
_PLAIN = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


def address(value: Any) -> str | None:
    """The one email address in ``value`` (``"Name <A@X.org>"`` -> ``"a@x.org"``), else ``None``."""
    if not isinstance(value, str) or "@" not in value:
        return None
    if _PLAIN.fullmatch(value):
        return value.lower()
    return parsed_address(value)


def parsed_address(value: str) -> str | None:
    """``address`` through the RFC 5322 parser alone (the general path)."""
    found = [addr for _, addr in getaddresses([value]) if addr]
    if len(found) != 1 or "@" not in found[0] or any(c.isspace() for c in found[0]):
        return None
    local, _, domain = found[0].rpartition("@")
    return f"{local}@{domain}".lower() if local and domain else None


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
        """Read ``<PREFIX>_USER_ID_KEYS`` (comma-separated) and ``<PREFIX>_EMAIL_AS`` (or ``_ID_AS``).

        A value other than userId/anonymousId raises ``ConfigurationError`` naming the setting."""
        keys = settings.get(f"{prefix}_USER_ID_KEYS")
        name = f"{prefix}_EMAIL_AS" if settings.get(f"{prefix}_EMAIL_AS") else f"{prefix}_ID_AS"
        fallback = settings.get(name) or "anonymousId"
        if fallback not in ("userId", "anonymousId"):
            raise ConfigurationError(f"CIOHOOKS_{name} must be userId or anonymousId")
        parsed = tuple(k.strip() for k in keys.split(",") if k.strip()) if keys is not None else default_keys
        return cls(user_id_keys=parsed, fallback_as=fallback)
