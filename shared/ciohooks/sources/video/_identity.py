"""Who a beacon's events belong to: ``userId`` only when the site's backend vouched for it.

The video endpoint is public (its write key ships in the page), so anyone could post beacons under
any ``userId`` and write into that person's history. The identity verification scheme of
Intercom-like widgets closes that: the site's backend, which knows who is logged in, computes

    user_hash = hex(HMAC-SHA256(key = site identity secret, message = userId as UTF-8))

and renders it into the page beside the userId; the tracker sends both. The server accepts
``userId`` only when ``user_hash`` matches under one of the configured secrets
(``VIDEO_IDENTITY_SECRETS``: comma-separated, one per site, or old and new while rotating;
compared in constant time, every secret tried). Otherwise the events go out under the beacon's
``anonymousId`` (the tracker always sends one), and the log says why, never with the id. A beacon
with an unverified ``userId`` and no ``anonymousId`` has no one to belong to: it is refused (400).

Without the secret configured no ``userId`` is ever accepted: fail closed, like the write key.
The secret never reaches the page; a leaked page gives hashes for the ids it shows, no more.
docs/sources/video.md has the server-side snippets (Python, Node) and the threat model.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections import OrderedDict

from .. import _credentials as credentials
from ..base import InvalidPayload
from ._beacon import Beacon, MalformedBeacon, parse_beacon

IDENTITY_SECRET_SETTING = "VIDEO_IDENTITY_SECRETS"


class Verdict(enum.Enum):
    """What became of a beacon's ``userId`` (safe to log: no id, no hash)."""

    VERIFIED = "userId verified"
    NO_USER_ID = "no userId sent"
    NO_HASH = "userId sent without user_hash"
    MISMATCH = "user_hash does not match userId"
    NOT_CONFIGURED = f"{IDENTITY_SECRET_SETTING} is not configured, so no userId is accepted"
    NOT_CHECKED = "translated apart from its authentication, no verified userId recorded (the CLI on a raw payload)"


class NoVerifiedIdentity(InvalidPayload):
    """An unverified ``userId`` and no ``anonymousId``: nobody the events can be filed under."""


def user_hash(secret: str, user_id: str) -> str:
    """What the site's backend computes for ``user_id`` (and what tests sign with)."""
    return hmac.new(secret.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def secrets_of(value: str | None) -> list[str]:
    """The configured identity secrets (none when unset)."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def claims_user_id(body: bytes) -> bool:
    """Whether a body names a userId (so the identity secret is worth reading)."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return isinstance(raw, dict) and bool(raw.get("userId"))


def verdict_of_body(body: bytes, secrets: list[str]) -> Verdict | None:
    """``verdict`` of a raw body; None when it is not a beacon (refused later with a 400)."""
    try:
        return verdict(parse_beacon(body), secrets)
    except MalformedBeacon:
        return None


def verdict(beacon: Beacon, secrets: list[str]) -> Verdict:
    if not beacon.userId:
        return Verdict.NO_USER_ID
    if not secrets:
        return Verdict.NOT_CONFIGURED
    if not beacon.user_hash:
        return Verdict.NO_HASH
    expected = [user_hash(secret, beacon.userId) for secret in secrets]
    # Every secret is compared (no early exit); hex is case-insensitive.
    return Verdict.VERIFIED if credentials.matches(beacon.user_hash.strip().lower(), expected) else Verdict.MISMATCH


def identity(beacon: Beacon, found: Verdict) -> dict[str, str]:
    """The one identity field the events carry (the spec accepts exactly one)."""
    if found is Verdict.VERIFIED and beacon.userId:
        return {"userId": beacon.userId}
    if beacon.anonymousId:
        return {"anonymousId": beacon.anonymousId}
    raise NoVerifiedIdentity(f"no anonymousId, and the userId is not used: {found.value}")



class Verdicts:
    """Verdicts reached while authenticating, until ingest records them on the request.

    Only ``authenticate`` reads secrets (deliver, which translates raw requests again, holds none:
    tests/unit/test_template.py). It verifies the identity there and keeps the verdict here, keyed
    by the body's digest; ``attested`` then records a verified userId on the request
    (``WebhookRequest.verified_user_id``), which is stored with it, so deliver, a replay and the
    sweep translate it with the same person. Translation trusts only that record; a verdict kept
    here only tells the log why a userId was not used. A translation with neither (the CLI on a
    raw payload) uses the anonymousId."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._found: OrderedDict[str, Verdict] = OrderedDict()

    @staticmethod
    def _key(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    def keep(self, body: bytes, found: Verdict) -> None:
        self._found[self._key(body)] = found
        self._found.move_to_end(self._key(body))
        while len(self._found) > self._size:
            self._found.popitem(last=False)

    def of(self, body: bytes) -> Verdict | None:
        return self._found.get(self._key(body))
