"""Sign requests the way providers do, so tests and the event generator can post authentic webhooks.

SendGrid (Signed Event Webhook): ECDSA P-256 with SHA-256 over the timestamp header's bytes followed by
the raw body. The signature header is the base64 of the DER signature. The verification key SendGrid
shows is the base64 of the DER SubjectPublicKeyInfo.
https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ciohooks.sources.email import sendgrid


def new_sendgrid_keypair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A fresh P-256 key pair: the private key, and the public key as SendGrid displays it (base64 DER)."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    der = private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_key, base64.b64encode(der).decode("ascii")


def sign_sendgrid(private_key: ec.EllipticCurvePrivateKey, raw_body: bytes, timestamp: str | int | None = None) -> dict[str, str]:
    """The two signature headers for ``raw_body`` (names lower-cased, as ``WebhookRequest`` keeps them).

    ``timestamp`` is unix seconds; it defaults to now. Send ``raw_body`` byte for byte: the signature covers it.
    """
    return sendgrid.sign(private_key, raw_body, timestamp)
