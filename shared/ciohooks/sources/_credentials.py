"""Static credentials: read what a request presents, compare it with what is configured, sign.

Providers that do not sign their webhooks authenticate with a shared secret sent as is: HTTP Basic
credentials written into the webhook URL (Postmark, SparkPost, Mailjet, Brevo), a bearer token
(Brevo, Expo and Firebase forwarders, Customer.io push metrics), or a whole header or query value
of the operator's choosing (Auth0, AppsFlyer, Branch, Adjust, the video write keys). Each source
says which it takes and which header or parameter carries it; this module holds what they share:

- ``bearer`` / ``basic``: the credential an ``Authorization`` header presents (RFC 6750 / RFC 7617;
  the scheme is case-insensitive), or None when it presents none of that kind.
- ``matches`` (and ``require``, which raises ``Unauthorized`` naming what failed, never a value):
  constant-time comparison with one configured value or several (rotation, one per site).
  SHA-256 digests are compared, so neither the content nor the length of a secret leaks through
  timing, and every configured value is compared (no early exit), so timing does not say which
  one matched either.
- ``with_header`` (and ``bearer_header`` / ``basic_header``): a request as the provider sends it
  with a credential, for ``Source.sign`` (tests, ``ciohooks send``, the events generator).
- ``BearerTokenSource``: ``authenticate`` and ``sign`` for sources whose only proof is a bearer
  token (the Expo and Firebase Auth forwarders).

Values are compared exactly as given: a source that ignores surrounding whitespace strips first.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
from typing import ClassVar, Iterable
from urllib.parse import parse_qsl

from ..request import WebhookRequest
from .base import NotConfigured, Source, Unauthorized


def _scheme_value(authorization: str | None, scheme: str) -> str | None:
    name, _, value = (authorization or "").strip().partition(" ")
    value = value.strip()
    return value if name.lower() == scheme and value else None


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    return _scheme_value(authorization, "bearer")


def basic(authorization: str | None) -> str | None:
    """The ``user:password`` text of an ``Authorization: Basic <base64>`` header, else None.

    None also when the value is not base64, not UTF-8, or has no ``:`` (RFC 7617's user-pass).
    """
    encoded = _scheme_value(authorization, "basic")
    if encoded is None:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded if ":" in decoded else None


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def matches(presented: str | None, expected: str | Iterable[str]) -> bool:
    """Whether ``presented`` equals ``expected`` (or one of several), in constant time."""
    if presented is None:
        return False
    given = _digest(presented)
    candidates = (expected,) if isinstance(expected, str) else tuple(expected)
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(given, _digest(candidate))
    return found


def require(presented: str | None, expected: str | Iterable[str], what: str) -> None:
    """``Unauthorized`` unless ``presented`` matches ``expected``. The message names ``what`` (e.g.
    "bearer token"), never a value: "missing or malformed <what>" or "<what> does not match"."""
    if not presented:
        raise Unauthorized(f"missing or malformed {what}")
    if not matches(presented, expected):
        raise Unauthorized(f"{what} does not match")


def require_every(presented: list[str], expected: str, what: str) -> None:
    """``require`` for a secret a request may carry more than once (a header and a URL parameter,
    a repeated parameter): every copy must match, since a forged copy next to a leaked one is
    still a forgery. An empty list is "missing"."""
    if not presented:
        raise Unauthorized(f"missing or malformed {what}")
    if not all([matches(value, expected) for value in presented]):  # a list: every copy is compared
        raise Unauthorized(f"{what} does not match")


def query_values(request: WebhookRequest, name: str) -> list[str]:
    """Every value of the query parameter ``name`` (a repeated parameter gives several)."""
    return [value for key, value in parse_qsl(request.raw_query, keep_blank_values=True) if key == name]


def several(name: str, value: str) -> list[str]:
    """The comma-separated values of secret ``name`` (one per webhook or site, or old and new while
    rotating), stripped; ``NotConfigured`` when there is none."""
    values = [item.strip() for item in value.split(",") if item.strip()]
    if not values:
        raise NotConfigured(f"{name} is empty")
    return values


def basic_secret(name: str, value: str) -> str:
    """A configured ``user:password`` secret; ``NotConfigured`` when it cannot be one (no ``:``)."""
    if ":" not in value:
        raise NotConfigured(f"{name} must be user:password")
    return value


def bearer_header(token: str) -> str:
    return f"Bearer {token}"


def basic_header(credentials: str) -> str:
    """The ``Authorization`` value a client sends for ``user:password`` (RFC 7617)."""
    return "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")


def with_header(request: WebhookRequest, name: str, value: str) -> WebhookRequest:
    """``request`` with the header ``name`` (lower case, as requests keep them) set to ``value``."""
    return dataclasses.replace(request, headers={**request.headers, name: value})


class BearerTokenSource(Source):
    """A source whose only proof is a shared bearer token: ``Authorization: Bearer <token>``, the
    token being the secret ``secret_name``. The header is never stored (``secret_headers``)."""

    secret_headers: ClassVar[frozenset[str]] = frozenset({"authorization"})

    def authenticate(self, request: WebhookRequest) -> None:
        if self.secret_name is None:  # a subclass that forgot to name its secret: fail closed
            raise NotConfigured(f"{self.full_name()} names no secret")
        if (expected := self.secret_or_open(self.secret_name)) is not None:
            require(bearer(request.header("authorization")), expected, "bearer token")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        return with_header(request, "authorization", bearer_header(key))
