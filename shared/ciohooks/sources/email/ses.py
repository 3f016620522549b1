"""Amazon SES notifications, delivered by Amazon SNS -> Customer.io email semantic events.

SES publishes email events to an SNS topic; the topic's HTTPS subscription POSTs each one to this
endpoint as an SNS envelope (JSON sent as ``text/plain``), whose ``Message`` is the SES record.

- SES event publishing (configuration sets): https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
  and its examples: https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html
- SES feedback notifications (the older format set on an identity): https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html
- SNS over HTTPS (envelope, headers, retries): https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
- SNS signatures: https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html

The SES record inside is mapped by ``_ses_records.py`` (the mapping table and its decisions),
the same code that maps the records EventBridge carries (``ses_eventbridge.py``): one mapping,
two transports. This module holds the SNS transport: the envelope, its signature and the
subscription handshake. ``SubscriptionConfirmation`` / ``UnsubscribeConfirmation`` (the SNS
handshakes) and ``AmazonSnsSubscriptionSucceeded`` (SES's test record) are ignored (``ignored_types``).

The table in docs/sources/ses.md is checked against ``EVENTS`` and ``ignored_types``.

Authentication (SNS message signatures, v1 SHA1withRSA and v2 SHA256withRSA):

- The string to sign is built from the envelope fields SNS documents for the message type
  (Notification: Message, MessageId, Subject if present, Timestamp, TopicArn, Type;
  SubscriptionConfirmation/UnsubscribeConfirmation: Message, MessageId, SubscribeURL, Timestamp,
  Token, TopicArn, Type), each as ``name\\nvalue\\n``.
- The certificate is fetched only from ``https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem``
  (``.amazonaws.com.cn`` in China, as AWS's own SNS message validators allow): no other host, scheme,
  port, user info, path, query or fragment. It is fetched over verified TLS without redirects, must be
  an RSA certificate valid at the time the request arrived, and is cached in memory per URL.
- ``TopicArn`` must be one of ``SES_TOPIC_ARNS`` (required, comma-separated): without it every request
  is refused (NotConfigured, 503). A message from any other topic is refused before any certificate
  is fetched.
- ``Timestamp`` may be at most ``SES_MAX_AGE_SECONDS`` (default 86400) old and 300 s in the future,
  measured at the time AWS received the request. SNS retries an HTTP delivery for at most 3600 s, so
  one day leaves room for throttled deliveries while refusing a captured message replayed later. 0
  turns the check off.
- Replays inside the window: the shared replay store (``ciohooks.replay_store``) remembers each
  ``MessageId`` with a digest of the signed fields until the message is too old anyway: the same
  MessageId with other signed content is refused (401); the same message again (an SNS retry)
  passes, and its deterministic messageIds make it harmless. An unreachable store answers 503.
- ``CIOHOOKS_ALLOW_UNSIGNED`` is not honoured: SNS signs every message and checking it needs no secret.
- ``SES_CERTIFICATE_PEM`` (LOCAL-ONLY, for ``make run``, events/ and the end-to-end test): a pinned
  certificate (PEM, or the base64 of its DER on one line) used instead of fetching the one named by
  ``SigningCertURL``. The URL must still pass the host rule. Anyone holding the matching private key
  (events/keys/ses-local.pem is public) can then sign messages, so it is logged as a warning on every
  request. It is read only from a real environment variable and ignored inside AWS Lambda
  (``config.LOCAL_ONLY``), so no stack parameter can set it.
- A certificate that cannot be fetched answers 503 (``CertificateUnavailable``): SNS retries 5xx only
  ("outside the range of 200-4xx"), so a passing network fault loses nothing.

Subscription handshake: a ``SubscriptionConfirmation`` that passes all of the above is confirmed by
GETting its ``SubscribeURL`` (same host rule, path ``/``, ``Action=ConfirmSubscription`` for this
topic) and answered 200. If the GET fails the answer is 502, so SNS sends the confirmation again. An
``UnsubscribeConfirmation`` is acknowledged (200) and not re-confirmed. Neither is queued.

Decisions:

- SNS "raw message delivery" must be off: a raw SES record carries no signature and is refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import re
import threading
from datetime import UTC, datetime
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ... import budgets, replay_store
from ...request import WebhookRequest, loads_json
from ...timestamps import BadTimestamp, parse_timestamp
from .._translation import not_mapped
from ..base import InvalidPayload, NotConfigured, Reply, Source, Translation, Unauthorized, Unavailable
from ._ses_records import EVENTS, RECORD_IGNORED_TYPES, SesRecordMapping

__all__ = ["EVENTS", "SOURCE", "Ses"]

log = logging.getLogger(__name__)

MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"
TOPICS_SETTING = "SES_TOPIC_ARNS"
PINNED_CERTIFICATE_SETTING = "SES_CERTIFICATE_PEM"
DEFAULT_MAX_AGE_SECONDS = 86400
FUTURE_SKEW_SECONDS = 300
MAX_CERTIFICATE_BYTES = 64 * 1024
# sns.<region>.amazonaws.com, or .amazonaws.com.cn in the China regions (AWS's SNS message validators
# use the same pattern). Lower case only: SNS never sends anything else.
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
CERTIFICATE_PATH = re.compile(r"^/SimpleNotificationService-[A-Za-z0-9]+\.pem$")
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
# A certificate URL in the shape SNS uses, for samples that do not name one (see ``sign``).
LOCAL_CERTIFICATE_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ciohookslocal.pem"

HttpGet = Callable[[str], bytes]


class CertificateUnavailable(Unavailable):
    """The signing certificate could not be fetched now (answered 503, so SNS tries again)."""


# ---- the SNS envelope and its signature --------------------------------------------------------------


def parse_envelope(body: bytes) -> dict[str, Any]:
    """The SNS envelope as a dict of its documented string fields; ``Unauthorized`` if it is not one."""
    try:
        envelope = loads_json(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Unauthorized("body is not an SNS message (not JSON)") from None
    if not isinstance(envelope, dict):
        raise Unauthorized("body is not an SNS message (not a JSON object)")
    kind = envelope.get("Type")
    if kind not in MESSAGE_TYPES:
        raise Unauthorized("body is not an SNS message (no known Type)")
    required = ("Message", "MessageId", "Timestamp", "TopicArn", "Type", "SignatureVersion", "Signature", "SigningCertURL")
    if kind != "Notification":
        required += ("SubscribeURL", "Token")
    for name in required:
        if not isinstance(envelope.get(name), str):
            raise Unauthorized(f"SNS message has no {name}")
    if envelope.get("Subject") is not None and not isinstance(envelope["Subject"], str):
        raise Unauthorized("SNS message Subject is not a string")
    return envelope


def string_to_sign(envelope: Mapping[str, Any]) -> bytes:
    """The canonical ``name\\nvalue\\n`` list SNS signs for this message type, in byte order."""
    fields = NOTIFICATION_FIELDS if envelope["Type"] == "Notification" else CONFIRMATION_FIELDS
    return "".join(f"{name}\n{envelope[name]}\n" for name in fields if envelope.get(name) is not None).encode("utf-8")


def check_certificate_url(url: str) -> str:
    """``url`` if it names an SNS signing certificate, else ``Unauthorized``."""
    parts = _sns_url(url, "certificate")
    if not CERTIFICATE_PATH.match(parts.path) or parts.query or parts.fragment:
        raise Unauthorized("SigningCertURL is not an SNS certificate path")
    return url


def check_subscribe_url(url: str, topic_arn: str) -> str:
    """``url`` if it is SNS's ConfirmSubscription link for ``topic_arn``, else ``Unauthorized``."""
    parts = _sns_url(url, "subscribe")
    query = parse_qs(parts.query, keep_blank_values=True)
    if parts.path != "/" or parts.fragment or query.get("Action") != ["ConfirmSubscription"] or query.get("TopicArn") != [topic_arn]:
        raise Unauthorized("SubscribeURL is not a ConfirmSubscription link for this topic")
    return url


def _sns_url(url: str, what: str):
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Unauthorized(f"SNS {what} URL is not a URL") from None
    if parts.scheme != "https" or parts.username is not None or parts.password is not None or port not in (None, 443):
        raise Unauthorized(f"SNS {what} URL is not plain https")
    if not SNS_HOST.match(parts.hostname or "") or parts.netloc.split(":")[0] != parts.hostname:
        raise Unauthorized(f"SNS {what} URL is not on an sns.<region>.amazonaws.com host")
    return parts


def load_certificate(data: bytes | str) -> x509.Certificate:
    """A PEM certificate, or the base64 of its DER on one line (for env files); ``ValueError`` otherwise."""
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    text = text.strip()
    if text.startswith("-----BEGIN"):
        certificate = x509.load_pem_x509_certificate(text.encode("ascii"))
    else:
        try:
            certificate = x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
        except binascii.Error:
            raise ValueError("not base64") from None
    if not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        raise ValueError("not an RSA certificate")
    return certificate


def verify_signature(envelope: Mapping[str, Any], certificate: x509.Certificate, now: datetime) -> None:
    """``Unauthorized`` unless ``certificate`` (valid at ``now``) signed this envelope."""
    hash_type = HASHES.get(envelope["SignatureVersion"])
    if hash_type is None:
        raise Unauthorized("unknown SNS SignatureVersion")
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Unauthorized("SNS signing certificate is not valid at the time of the request")
    try:
        signature = base64.b64decode(envelope["Signature"], validate=True)
    except binascii.Error:
        raise Unauthorized("SNS Signature is not base64") from None
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise Unauthorized("SNS signing certificate does not hold an RSA key")
    try:
        public_key.verify(signature, string_to_sign(envelope), padding.PKCS1v15(), hash_type())
    except InvalidSignature:
        raise Unauthorized("SNS signature does not match") from None


def sign_envelope(envelope: dict[str, Any], private_key: str | rsa.RSAPrivateKey, *, version: str = "2") -> dict[str, Any]:
    """``envelope`` signed with a key of your own (for tests and local samples; SNS's key stays at AWS)."""
    if isinstance(private_key, str):
        loaded = serialization.load_pem_private_key(private_key.encode("ascii"), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError("an SNS signing key must be an RSA private key")
        private_key = loaded
    signed = {**envelope, "SignatureVersion": version}
    signature = private_key.sign(string_to_sign(signed), padding.PKCS1v15(), HASHES[version]())
    signed["Signature"] = base64.b64encode(signature).decode("ascii")
    return signed


def default_http_get(url: str) -> bytes:
    """GET over verified TLS, no redirects, a short timeout; raises on anything but a 2xx."""
    import requests

    response = requests.get(url, timeout=budgets.CERTIFICATE_FETCH.timeouts(), allow_redirects=False, stream=True)
    try:
        if not 200 <= response.status_code < 300:
            raise OSError(f"HTTP {response.status_code}")
        content = response.raw.read(MAX_CERTIFICATE_BYTES + 1, decode_content=True)
        if len(content) > MAX_CERTIFICATE_BYTES:
            raise OSError("response too large")
        return content
    finally:
        response.close()


def _sns_timestamp(when: datetime) -> str:
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class Ses(SesRecordMapping, Source):
    family: ClassVar[str] = "email"
    name: ClassVar[str] = "ses"
    docs_url: ClassVar[str] = "https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html"
    required_settings: ClassVar[tuple[str, ...]] = (TOPICS_SETTING,)
    ignored_types: ClassVar[Mapping[str, str]] = {
        **RECORD_IGNORED_TYPES,
        "AmazonSnsSubscriptionSucceeded": "SES's test notification that the topic is set up: about no message",
        "SubscriptionConfirmation": "the SNS subscription handshake (answered by reply_after_accept), not an SES record",
        "UnsubscribeConfirmation": "the SNS unsubscribe handshake, not an SES record",
    }

    def __init__(self, settings=None, *, http_get: HttpGet | None = None) -> None:
        super().__init__(settings)
        self.replays = replay_store.guard(self)
        # Injectable for tests; production always uses verified HTTPS to the SNS host only.
        self.http_get: HttpGet = http_get or default_http_get
        self._certificates: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()
        self._read_mapping_settings()

    # -- authentication ---------------------------------------------------------------------------

    def authenticate(self, request: WebhookRequest) -> None:
        topics = self.settings.get_list(TOPICS_SETTING)
        if not topics:
            raise NotConfigured(f"{TOPICS_SETTING} is not configured, so every SNS message is refused")
        envelope = parse_envelope(request.body)
        header_type = request.header(MESSAGE_TYPE_HEADER)
        if header_type is not None and header_type != envelope["Type"]:
            raise Unauthorized("x-amz-sns-message-type disagrees with the signed Type")
        if envelope["TopicArn"] not in topics:
            raise Unauthorized("SNS topic is not in SES_TOPIC_ARNS")
        url = check_certificate_url(envelope["SigningCertURL"])
        now = request.received_at.astimezone(UTC)
        verify_signature(envelope, self._certificate(url), now)
        expires_at = self._check_age(envelope["Timestamp"], now)
        digest = replay_store.digest_of(string_to_sign(envelope))
        self.replays.check(envelope["MessageId"], digest, expires_at=expires_at, now=now.timestamp(), what="SNS MessageId")

    def _check_age(self, timestamp: str, now: datetime) -> int:
        """Refuse a message too old or from the future; returns until when (epoch s) it is accepted."""
        max_age = self.settings.get_int("SES_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS)
        if max_age < 0:
            raise NotConfigured("SES_MAX_AGE_SECONDS must not be negative")
        try:
            sent = parse_timestamp(timestamp)
        except BadTimestamp:
            raise Unauthorized("SNS Timestamp is not a time") from None
        age = (now - sent).total_seconds()
        if age < -FUTURE_SKEW_SECONDS:
            raise Unauthorized("SNS Timestamp is in the future")
        if max_age and age > max_age:
            raise Unauthorized(f"SNS message is more than {max_age} s old")
        return int(sent.timestamp()) + (max_age or DEFAULT_MAX_AGE_SECONDS)

    def _certificate(self, url: str) -> x509.Certificate:
        pinned = self.settings.get(PINNED_CERTIFICATE_SETTING)
        if pinned is not None:
            log.warning(
                "SECURITY: %s is set: SNS signatures are checked against a pinned LOCAL-ONLY certificate "
                "instead of Amazon's. Never set it on a deployed stack.",
                PINNED_CERTIFICATE_SETTING,
            )
            try:
                return load_certificate(pinned)
            except ValueError:
                raise NotConfigured(f"{PINNED_CERTIFICATE_SETTING} is not an RSA certificate") from None
        with self._lock:
            if url in self._certificates:
                return self._certificates[url]
        try:
            data = self.http_get(url)
        except Exception as error:  # network, TLS, HTTP status: all transient from SNS's point of view
            raise CertificateUnavailable(f"could not fetch the SNS signing certificate ({error.__class__.__name__})") from None
        try:
            certificate = load_certificate(data)
        except ValueError:
            raise Unauthorized("SigningCertURL did not return an RSA certificate") from None
        with self._lock:
            if len(self._certificates) >= 32:  # SNS rotates rarely; bound the cache anyway
                self._certificates.clear()
            self._certificates[url] = certificate
        return certificate

    # -- the subscription handshake ---------------------------------------------------------------

    def reply_after_accept(self, request: WebhookRequest) -> Reply | None:
        envelope = parse_envelope(request.body)
        if envelope["Type"] == "UnsubscribeConfirmation":
            # Not re-confirmed: someone unsubscribed this endpoint on purpose.
            log.info("SNS unsubscribe confirmation received; not re-subscribing")
            return Reply(200, "unsubscribe confirmation received")
        if envelope["Type"] != "SubscriptionConfirmation":
            return None
        try:
            url = check_subscribe_url(envelope["SubscribeURL"], envelope["TopicArn"])
        except Unauthorized as error:
            log.error("refusing to confirm an SNS subscription: %s", error)
            return Reply(400, "SubscribeURL refused")
        try:
            self.http_get(url)
        except Exception as error:
            log.error("could not confirm the SNS subscription (%s); SNS will send the confirmation again", error.__class__.__name__)
            return Reply(502, "subscription confirmation failed, retry later")
        log.info("SNS subscription confirmed")
        return Reply(200, "subscription confirmed")

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """The envelope in ``request.body`` stamped with the request's arrival time and signed (v2)
        with ``key``, a PEM RSA private key of your own (e.g. events/keys/ses-local.pem)."""
        try:
            envelope = json.loads(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError("the body is not an SNS envelope") from None
        envelope["Timestamp"] = _sns_timestamp(request.received_at)
        try:
            check_certificate_url(str(envelope.get("SigningCertURL")))
        except Unauthorized:
            envelope["SigningCertURL"] = LOCAL_CERTIFICATE_URL
        signed = sign_envelope(envelope, key)
        body = (json.dumps(signed, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        headers = {**request.headers, MESSAGE_TYPE_HEADER: str(signed.get("Type"))}
        return dataclasses.replace(request, body=body, headers=headers)

    # -- translation ------------------------------------------------------------------------------

    def translate(self, request: WebhookRequest) -> Translation:
        try:
            envelope = parse_envelope(request.body)
        except Unauthorized as error:
            raise InvalidPayload(str(error)) from None
        translation = Translation()
        if envelope["Type"] != "Notification":
            not_mapped(translation, envelope["Type"], self.ignored_types)
            return translation
        try:
            record = loads_json(envelope["Message"])
        except json.JSONDecodeError:
            raise InvalidPayload("SNS Message is not an SES record (not JSON)") from None
        return self.translate_record(record, envelope["MessageId"], translation)


SOURCE = Ses
