"""Verification presets of custom sources: each checks the RAW request, in constant time.

One class per preset of ``definition.Authentication``; each has ``verify(source, request)``
(raise ``Unauthorized``, or ``NotConfigured`` without its secret) and ``sign(request, key)`` (the
request as the provider sends it, for ``ciohooks send`` and tests; ``key`` is the secret, or for
``public-key`` a PEM private key whose public half the endpoint trusts).

- ``hmac``: HMAC-SHA1/256/512 of a signed-content template over the raw bytes, hex or base64, an
  optional prefix (``sha256=``), a plain header or a ``t=...,v1=...`` one (every ``v1`` entry is
  tried: senders rotate by sending two), a timestamp within ``tolerance_seconds`` of the time AWS
  received the request. Several secrets, comma-separated, for receiver-side rotation.
- ``standard-webhooks``: ``_standard_webhooks`` (the ``standardwebhooks`` library), the module
  Resend, Clerk and the app-backend contract use.
- ``basic`` and ``token``: ``_credentials`` (SHA-256 digests compared, every configured value
  compared, no early exit).
- ``public-key``: ECDSA P-256 (DER or raw r||s signatures) or RSA (PKCS#1 v1.5 or PSS), SHA-256,
  with ``cryptography``.
- ``none``: accepts everything; a definition says so only with
  ``accept_unauthenticated_requests_from_anyone: true``, and every request logs a SECURITY warning.

Messages name headers and reasons, never a body, a signature or a secret.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hmac
import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlencode

from ...request import WebhookRequest
from .. import _credentials as credentials
from .. import _standard_webhooks as standard_webhooks
from ..base import NotConfigured, Unauthorized
from . import definition as d

if TYPE_CHECKING:
    from ..base import Source

logger = logging.getLogger("ciohooks.sources.custom")
PLACEHOLDER = re.compile(r"\{(body|timestamp|url|sorted_params|method|path|header:[A-Za-z0-9-]+)\}")
MAX_TIMESTAMP_DIGITS = 13


class Preset:
    secret_headers: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: Any) -> None:
        self.config = config

    @property
    def secret_name(self) -> str | None:
        return getattr(self.config, "secret", None)

    @property
    def stripped_headers(self) -> frozenset[str]:
        """Headers carrying a credential: never stored with a request."""
        return self.secret_headers

    @property
    def stripped_query_keys(self) -> frozenset[str]:
        return frozenset()

    def verify(self, source: Source, request: WebhookRequest) -> None:
        raise NotImplementedError

    def sign(self, request: WebhookRequest, key: str) -> WebhookRequest:
        raise NotImplementedError


def signed_content(template: str, request: WebhookRequest, timestamp: str | None) -> bytes:
    """The bytes a signature covers: ``template`` with each placeholder replaced (the body raw)."""
    out = bytearray()
    position = 0
    for match in PLACEHOLDER.finditer(template):
        out += template[position:match.start()].encode("utf-8")
        out += _placeholder(match.group(1), request, timestamp)
        position = match.end()
    out += template[position:].encode("utf-8")
    return bytes(out)


def _placeholder(name: str, request: WebhookRequest, timestamp: str | None) -> bytes:
    if name == "body":
        return request.body
    if name == "timestamp":
        return (timestamp or "").encode("ascii")
    if name == "url":
        return request.url.encode("utf-8")
    if name == "method":
        return request.method.encode("ascii")
    if name == "path":
        return request.path.encode("utf-8")
    if name == "sorted_params":
        # Twilio's scheme: the form parameters (or, without a form body, the query's) sorted by
        # name, each name followed at once by its value.
        source = request.body.decode("utf-8", "replace") if request.body else request.raw_query
        return "".join(k + v for k, v in sorted(parse_qsl(source, keep_blank_values=True))).encode("utf-8")
    return (request.header(name.removeprefix("header:")) or "").encode("utf-8")


def check_timestamp(request: WebhookRequest, stamp: str | None, tolerance: int, what: str) -> str:
    if not stamp:
        raise Unauthorized(f"missing {what}")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
        raise Unauthorized(f"{what} is not a unix timestamp")
    seconds = int(stamp) / 1000 if len(stamp) > 11 else int(stamp)  # 12+ digits: milliseconds
    if abs(request.received_at.timestamp() - seconds) > tolerance:
        raise Unauthorized(f"{what} is more than {tolerance} s from the time of receipt")
    return stamp


def _decode(text: str, encoding: str) -> bytes | None:
    try:
        return bytes.fromhex(text) if encoding == "hex" else base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (ValueError, binascii.Error):
        return None


def _encode(raw: bytes, encoding: str) -> str:
    return raw.hex() if encoding == "hex" else base64.b64encode(raw).decode("ascii")


class Hmac(Preset):
    config: d.HmacAuth

    def _keys(self, value: str) -> list[bytes]:
        keys = []
        for secret in credentials.several(self.config.secret, value):
            key = secret.encode("utf-8") if self.config.secret_encoding == "utf8" else _decode(secret, "hex" if self.config.secret_encoding == "hex" else "base64")
            if not key:
                raise NotConfigured(f"{self.config.secret} is not {self.config.secret_encoding}")
            keys.append(key)
        return keys

    def _presented(self, request: WebhookRequest) -> tuple[list[str], str | None]:
        """The signatures the request presents (prefix removed) and its timestamp, if any."""
        config = self.config
        value = (request.header(config.header) or "").strip()
        stamp = request.header(config.timestamp_header) if config.timestamp_header else None
        if config.signature_key is None:
            return ([value.removeprefix(config.prefix)] if value.startswith(config.prefix) and value != config.prefix else []), stamp
        signatures = []
        for entry in value.split(","):
            key, _, item = entry.strip().partition("=")
            if key == config.signature_key and item.startswith(config.prefix):
                signatures.append(item.removeprefix(config.prefix))
            elif key == config.timestamp_key:
                stamp = item
        return signatures, stamp

    def verify(self, source: Source, request: WebhookRequest) -> None:
        secret = source.secret_or_open(self.config.secret)
        if secret is None:
            return
        keys = self._keys(secret)
        signatures, stamp = self._presented(request)
        if not signatures:
            raise Unauthorized(f"missing or malformed {self.config.header} header")
        if self.config.timestamp_key or self.config.timestamp_header:
            stamp = check_timestamp(request, stamp, self.config.tolerance_seconds, "signature timestamp")
        content = signed_content(self.config.signed_content, request, stamp)
        expected = [hmac.new(key, content, self.config.algorithm).digest() for key in keys]
        for text in signatures:
            presented = _decode(text.strip(), self.config.encoding)
            if presented is not None and any([hmac.compare_digest(candidate, presented) for candidate in expected]):  # a list: no early exit
                return
        raise Unauthorized(f"{self.config.header} signature does not match")

    def sign(self, request: WebhookRequest, key: str) -> WebhookRequest:
        config = self.config
        stamp = str(int(request.received_at.timestamp())) if (config.timestamp_key or config.timestamp_header) else None
        digest = hmac.new(self._keys(key)[0], signed_content(config.signed_content, request, stamp), config.algorithm).digest()
        signature = config.prefix + _encode(digest, config.encoding)
        headers = dict(request.headers)
        if config.signature_key is not None:
            entries = ([f"{config.timestamp_key}={stamp}"] if config.timestamp_key else []) + [f"{config.signature_key}={signature}"]
            headers[config.header.lower()] = ",".join(entries)
        else:
            headers[config.header.lower()] = signature
        if config.timestamp_header:
            headers[config.timestamp_header.lower()] = stamp or ""
        return dataclasses.replace(request, headers=headers)


class StandardWebhooks(Preset):
    config: d.StandardWebhooksAuth

    @property
    def prefixes(self) -> tuple[str, ...]:
        return standard_webhooks.SVIX if self.config.header_prefix == "svix" else standard_webhooks.STANDARD

    def verify(self, source: Source, request: WebhookRequest) -> None:
        secret = source.secret_or_open(self.config.secret)
        if secret is not None:
            standard_webhooks.verify(request, secret, secret_name=self.config.secret, tolerance_seconds=self.config.tolerance_seconds, prefixes=self.prefixes)

    def sign(self, request: WebhookRequest, key: str) -> WebhookRequest:
        return standard_webhooks.sign(request, key, prefixes=self.prefixes)


class Basic(Preset):
    config: d.BasicAuth
    secret_headers = frozenset({"authorization"})

    def verify(self, source: Source, request: WebhookRequest) -> None:
        secret = source.secret_or_open(self.config.secret)
        if secret is not None:
            expected = credentials.basic_secret(self.config.secret, secret)
            credentials.require(credentials.basic(request.header("authorization")), expected, "Basic Authorization header")

    def sign(self, request: WebhookRequest, key: str) -> WebhookRequest:
        return credentials.with_header(request, "authorization", credentials.basic_header(key))


class Token(Preset):
    config: d.TokenAuth

    @property
    def stripped_headers(self) -> frozenset[str]:
        return frozenset({self.config.name.lower()}) if self.config.location == "header" else frozenset()

    @property
    def stripped_query_keys(self) -> frozenset[str]:
        return frozenset({self.config.name}) if self.config.location == "query" else frozenset()

    def verify(self, source: Source, request: WebhookRequest) -> None:
        secret = source.secret_or_open(self.config.secret)
        if secret is None:
            return
        expected = credentials.several(self.config.secret, secret)
        if self.config.location == "query":
            presented = credentials.query_values(request, self.config.name)
            if not presented:
                raise Unauthorized(f"missing or malformed query parameter {self.config.name}")
            if not all([credentials.matches(value, expected) for value in presented]):  # every copy must match
                raise Unauthorized(f"query parameter {self.config.name} does not match")
            return
        value = request.header(self.config.name)
        token = credentials.bearer(value) if self.config.bearer else value
        credentials.require(token, expected, f"{self.config.name} header")

    def sign(self, request: WebhookRequest, key: str) -> WebhookRequest:
        token = key.split(",")[0].strip()
        if self.config.location == "query":
            extra = urlencode({self.config.name: token})
            return dataclasses.replace(request, raw_query=f"{request.raw_query}&{extra}" if request.raw_query else extra)
        return credentials.with_header(request, self.config.name.lower(), credentials.bearer_header(token) if self.config.bearer else token)


@functools.lru_cache(maxsize=8)
def _public_key(text: str, name: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        if "-----BEGIN" in text:
            return serialization.load_pem_public_key(text.encode("ascii"))
        return serialization.load_der_public_key(base64.b64decode(text.strip(), validate=True))
    except (ValueError, TypeError, binascii.Error):
        raise NotConfigured(f"{name} is not a public key (PEM, or base64 DER)") from None


class PublicKey(Preset):
    config: d.PublicKeyAuth

    def verify(self, source: Source, request: WebhookRequest) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

        secret = source.secret_or_open(self.config.secret)
        if secret is None:
            return
        key = _public_key(secret.strip(), self.config.secret)
        wants_ec = self.config.algorithm == "ecdsa-sha256"
        if wants_ec != isinstance(key, ec.EllipticCurvePublicKey) or (not wants_ec and not isinstance(key, rsa.RSAPublicKey)):
            raise NotConfigured(f"{self.config.secret} is not a key for {self.config.algorithm}")
        stamp = None
        if self.config.timestamp_header:
            stamp = check_timestamp(request, request.header(self.config.timestamp_header), self.config.tolerance_seconds, f"{self.config.timestamp_header} header")
        text = (request.header(self.config.header) or "").strip()
        signature = _decode(text, self.config.encoding) if text else None
        if not signature:
            raise Unauthorized(f"missing or malformed {self.config.header} header")
        content = signed_content(self.config.signed_content, request, stamp)
        try:
            if wants_ec:
                if len(signature) == 64 and signature[0] != 0x30:  # raw r||s (JOSE style), not DER
                    signature = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
                key.verify(signature, content, ec.ECDSA(hashes.SHA256()))
            elif self.config.algorithm == "rsa-sha256":
                key.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
            else:
                key.verify(signature, content, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO), hashes.SHA256())
        except InvalidSignature:
            raise Unauthorized(f"{self.config.header} signature does not match") from None

    def sign(self, request: WebhookRequest, key: str) -> WebhookRequest:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        private = serialization.load_pem_private_key(key.encode("ascii"), password=None)
        headers = dict(request.headers)
        stamp = None
        if self.config.timestamp_header:
            stamp = str(int(request.received_at.timestamp()))
            headers[self.config.timestamp_header.lower()] = stamp
        content = signed_content(self.config.signed_content, request, stamp)
        if self.config.algorithm == "ecdsa-sha256":
            signature = private.sign(content, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
        elif self.config.algorithm == "rsa-sha256":
            signature = private.sign(content, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg]
        else:
            signature = private.sign(content, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH), hashes.SHA256())  # type: ignore[call-arg]
        headers[self.config.header.lower()] = _encode(signature, self.config.encoding)
        return dataclasses.replace(request, headers=headers)


class Open(Preset):
    config: d.NoAuth

    def verify(self, source: Source, request: WebhookRequest) -> None:
        logger.warning("SECURITY: %s accepts UNAUTHENTICATED requests (its definition says %s: true). Anyone can post events to it.", source.full_name(), d.NONE_FLAG)

    def sign(self, request: WebhookRequest, key: str) -> WebhookRequest:
        return request


PRESETS: dict[str, type[Preset]] = {
    "hmac": Hmac,
    "standard-webhooks": StandardWebhooks,
    "basic": Basic,
    "token": Token,
    "public-key": PublicKey,
    "none": Open,
}


def preset_of(config: Any) -> Preset:
    return PRESETS[config.preset](config)
