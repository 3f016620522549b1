"""Standard Webhooks signatures (and Svix's, the same scheme under ``svix-*`` header names).

Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
(Svix: https://docs.svix.com/receiving/verifying-payloads/how-manual). The signed content is
``<id>.<timestamp>.<raw body>``; the signature is HMAC-SHA256 with the secret's key (the base64 after
``whsec_``), sent as space-separated ``v1,<base64>`` entries in ``webhook-signature``, with the id
and the unix timestamp in ``webhook-id`` and ``webhook-timestamp``. Svix, and the providers that
send through it (Resend, Clerk), name the same headers ``svix-id``, ``svix-timestamp`` and
``svix-signature``; ``prefixes`` says which names a source reads (first found wins, per header).

How this module verifies, for every source that uses it (Resend, Clerk, the app-backend contract):

- The ``standardwebhooks`` library computes the expected signature (it formats ``v1,<base64>``).
  Its own ``verify`` is not used: it checks the timestamp against the wall clock with a fixed
  5 minutes, while ingest checks it against the time AWS received the request (so a request kept
  in the DLQ keeps its verdict) within the source's ``<NAME>_TOLERANCE_SECONDS``, and it raises
  bare errors on malformed headers.
- Several secrets may be configured, separated by spaces or commas (receiver-side rotation); a
  sender rotates by sending two signatures. Every ``v1`` entry is compared with every secret's
  signature by ``hmac.compare_digest``, with no early exit on a secret, so timing does not say
  which one matched. Other versions (``v1a``, asymmetric) are not configured here and never match.
- A secret is ``whsec_`` + base64 (the prefix and the padding may be left out) of at least 24
  bytes, the spec's minimum ("Random. At least 24 bytes"; Svix's secrets are 24); anything else is
  ``NotConfigured`` (503) naming the setting, never its value.
- An id containing ``.`` is refused, as the spec asks (it would blur where the id ends in the
  signed content), and so is a timestamp that is not unix seconds.
- Replays: the spec asks receivers to use ``webhook-id`` for idempotency. Each source passes its
  ``replays`` guard (``ciohooks.replay_store``, shared by every container), which remembers the id
  with a digest of the body until the signature leaves the window: the same id with a DIFFERENT
  body is refused (401), the same id with the same body (a retry, re-signed at a later timestamp)
  passes. Tests of the scheme alone may pass ``replays=None``.
- Messages name headers and reasons, never the body, a signature or a secret.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from ..replay_store import ReplayGuard, digest_of
from ..request import WebhookRequest
from .base import NotConfigured, Unauthorized

STANDARD = ("webhook",)  # webhook-id, webhook-timestamp, webhook-signature
SVIX = ("svix", "webhook")  # Svix's names first, the standard's accepted too
FIELDS = ("id", "timestamp", "signature")
MIN_SECRET_BYTES = 24
MAX_TIMESTAMP_DIGITS = 12


@functools.lru_cache(maxsize=16)
def load_secrets(text: str, secret_name: str) -> tuple[Webhook, ...]:
    """Signers for one or more secrets (separated by spaces or commas); ``NotConfigured`` if any is bad."""
    found = []
    for secret in text.replace(",", " ").split():
        encoded = secret.removeprefix("whsec_")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise NotConfigured(f"{secret_name} is not a Standard Webhooks secret (whsec_ + base64)") from None
        if len(key) < MIN_SECRET_BYTES:
            raise NotConfigured(f"{secret_name} is shorter than {MIN_SECRET_BYTES} bytes (Standard Webhooks' minimum)")
        found.append(Webhook(key))
    if not found:
        raise NotConfigured(f"{secret_name} is empty")
    return tuple(found)


def verify(
    request: WebhookRequest,
    secrets: str,
    *,
    secret_name: str,
    tolerance_seconds: int,
    prefixes: tuple[str, ...] = STANDARD,
    replays: ReplayGuard | None = None,
) -> str:
    """Raise ``Unauthorized`` unless one of ``secrets`` signed ``<id>.<timestamp>.<body>`` within
    ``tolerance_seconds`` of ``request.received_at`` and ``replays`` has not seen the id with another
    body. Returns the message id."""
    signers = load_secrets(secrets, secret_name)
    lowered = {name.lower(): value for name, value in request.headers.items()}
    msg_id, stamp, signatures = (_first(lowered, prefixes, field) for field in FIELDS)
    id_name, stamp_name, signature_name = (f"{prefixes[0]}-{field}" for field in FIELDS)
    if not (msg_id and stamp and signatures):
        missing = [f"{prefixes[0]}-{field}" for field, value in zip(FIELDS, (msg_id, stamp, signatures)) if not value]
        raise Unauthorized(f"missing Standard Webhooks header(s): {', '.join(missing)}")
    if "." in msg_id:
        raise Unauthorized(f"{id_name} must not contain '.'")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
        raise Unauthorized(f"{stamp_name} is not unix seconds")
    if abs(request.received_at.timestamp() - int(stamp)) > tolerance_seconds:
        raise Unauthorized(f"{stamp_name} is more than {tolerance_seconds} s from the time of receipt")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unauthorized("body is not UTF-8, so no Standard Webhooks signer produced this signature") from None
    when = datetime.fromtimestamp(int(stamp), UTC)
    expected = [base64.b64decode(signer.sign(msg_id, when, text).partition(",")[2]) for signer in signers]
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            presented = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any([hmac.compare_digest(candidate, presented) for candidate in expected]):  # a list: no early exit
            if replays is not None:
                replays.check(msg_id, digest_of(request.body), expires_at=int(stamp) + tolerance_seconds, now=request.received_at.timestamp(), what=id_name)
            return msg_id
    raise Unauthorized(f"{signature_name} does not match")


def signature_headers(secret: str, body: bytes, msg_id: str, timestamp: int, prefix: str = STANDARD[0]) -> dict[str, str]:
    """The three headers a sender puts on ``body`` (the first of several secrets signs)."""
    signer = load_secrets(secret, "the signing secret")[0]
    signature = signer.sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body.decode("utf-8"))
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(timestamp), f"{prefix}-signature": signature}


def sign(request: WebhookRequest, secret: str, *, prefixes: tuple[str, ...] = STANDARD, id_length: int = 32) -> WebhookRequest:
    """``request`` signed with ``secret`` at ``received_at``, under the first of ``prefixes``' names.

    A message id the request already carries (a sample's ``.meta.json``) is kept; otherwise one is
    derived from the body (``msg_`` + ``id_length`` hex digits of its SHA-256), so generated events
    are reproducible. A real sender uses a fresh id per message. Earlier signature headers go.
    """
    lowered = {name.lower(): value for name, value in request.headers.items()}
    msg_id = _first(lowered, prefixes, "id") or "msg_" + hashlib.sha256(request.body).hexdigest()[:id_length]
    replaced = {f"{prefix}-{field}" for prefix in prefixes for field in FIELDS}
    headers = {name: value for name, value in request.headers.items() if name.lower() not in replaced}
    headers.update(signature_headers(secret, request.body, msg_id, int(request.received_at.timestamp()), prefixes[0]))
    return dataclasses.replace(request, headers=headers)


def _first(lowered: dict[str, str], prefixes: tuple[str, ...], field: str) -> str | None:
    return next((lowered[name] for name in (f"{prefix}-{field}" for prefix in prefixes) if lowered.get(name)), None)
