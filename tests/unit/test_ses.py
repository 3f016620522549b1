"""Amazon SES via SNS: the documented SES records translated, SNS signatures, the handshake.

Samples: events/samples/email/ses (credited in its README.md): the SES records of the AWS docs, each
in the SNS Notification envelope the SNS docs show; sns/ holds the SNS docs' own envelopes.
There are no published SNS test vectors signed by AWS, so signatures are made here with a fresh
RSA key and a self-signed certificate, served by an injected HTTP getter (the production getter is
never replaced, and the host rule is tested on its own).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.local import local_keys
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, Unavailable, load
from ciohooks.sources.email import ses as ses_module
from ciohooks.sources.email.ses import (
    SOURCE,
    CertificateUnavailable,
    Ses,
    check_certificate_url,
    check_subscribe_url,
    sign_envelope,
    string_to_sign,
)
from tests.support.sources import Harness

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples" / "email" / "ses"
KEYS = ROOT / "events" / "keys"
NAME = "email/ses"
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"
CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
SES_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
SUBJECT = "Message sent from Amazon SES"
NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


# ---- keys, certificates, a fake HTTPS getter -------------------------------------------------------


def make_certificate(key: rsa.RSAPrivateKey, not_before: datetime, not_after: datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com (test)")])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )  # fmt: skip


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def cert(key) -> x509.Certificate:
    return make_certificate(key, datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC))


class FakeHttps:
    """Serves the certificate at CERT_URL (and answers ConfirmSubscription links); records URLs."""

    def __init__(self, certificate: bytes, fail: bool = False) -> None:
        self.certificate, self.fail, self.urls = certificate, fail, []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        if self.fail:
            raise OSError("connection refused")
        if url.endswith(".pem"):
            return self.certificate
        return b"<ConfirmSubscriptionResponse/>"


@pytest.fixture
def https(cert) -> FakeHttps:
    return FakeHttps(pem(cert))


harness = Harness("email/ses", content_type="text/plain; charset=UTF-8", env={"SES_TOPIC_ARNS": TOPIC}, received=NOW)


def source(https: FakeHttps | None = None, **env: str) -> Ses:
    """The source, fetching certificates through ``https`` (a fake: no test reaches AWS)."""
    return dataclasses.replace(harness, build=lambda settings: Ses(settings, http_get=https)).source(**env)


def envelope(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


def record(name: str) -> dict[str, Any]:
    return json.loads(envelope(name)["Message"])


def with_record(name: str, change) -> dict[str, Any]:
    """A sample envelope whose SES record ``change(record)`` edited."""
    env = envelope(name)
    rec = json.loads(env["Message"])
    change(rec)
    env["Message"] = json.dumps(rec)
    return env


def post(env: dict[str, Any] | bytes, received: datetime = NOW, headers: dict[str, str] | None = None) -> WebhookRequest:
    """An SNS envelope POSTed as SNS does (JSON as text/plain, indented as SNS writes it)."""
    return harness.post(env if isinstance(env, bytes) else json.dumps(env, indent=2).encode(), headers, received=received)


def signed(env: dict[str, Any], key, *, at: datetime = NOW, version: str = "2") -> WebhookRequest:
    return post(sign_envelope({**env, "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")}, key, version=version))


def translate(env: dict[str, Any] | str, **settings: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    """``harness.translate`` of an envelope, or of a sample envelope named by its file."""
    return harness.translate(envelope(env) if isinstance(env, str) else env, **settings)


def one(env: dict[str, Any] | str, **settings: str) -> dict[str, Any]:
    return harness.one(envelope(env) if isinstance(env, str) else env, **settings)


def sns_id(name: str) -> str:
    return envelope(name)["MessageId"]


# ---- the documented records --------------------------------------------------------------------------


def test_event_publishing_bounce() -> None:
    assert one("event-bounce.txt") == {
        "type": "track",
        "event": "Email Bounced",
        "anonymousId": "recipient@example.com",
        "messageId": "fd36a888-0b37-5444-9f18-ef19cbfff889",  # UUIDv5 of the SNS MessageId and the recipient
        "timestamp": "2017-08-05T00:41:02.669000Z",
        "properties": {
            "email_id": SES_ID,
            "email_subject": SUBJECT,
            "bounce_type": "Permanent",
            "bounce_sub_type": "General",
            "status": "5.1.1",
            "action": "failed",
            "diagnostic_code": "smtp; 550 5.1.1 user unknown",
        },
        "context": {"traits": {"email": "recipient@example.com"}},
    }


def test_event_publishing_delivery_open_click_complaint() -> None:
    delivery = one("event-delivery.txt")
    assert (delivery["event"], delivery["timestamp"], delivery["properties"]) == (
        "Email Delivered", "2016-10-19T23:21:04.133000Z", {"email_id": SES_ID, "email_subject": SUBJECT})
    opened = one("event-open.txt")
    assert opened["event"] == "Email Opened" and opened["timestamp"] == "2017-08-09T22:00:19.652000Z"
    assert opened["context"]["traits"] == {
        "email": "recipient@example.com",
        "ip": "192.0.2.1",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) AppleWebKit/603.3.8 (KHTML, like Gecko) Mobile/14G60",
    }
    clicked = one("event-click.txt")
    assert clicked["properties"] == {
        "email_id": SES_ID,
        "email_subject": SUBJECT,
        "link_url": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
        "link_tags": {"samplekey0": ["samplevalue0"], "samplekey1": ["samplevalue1"]},
    }
    assert clicked["context"]["traits"]["ip"] == "192.0.2.1" and clicked["timestamp"] == "2017-08-09T23:51:25.570000Z"
    spam = one("event-complaint.txt")
    assert spam["event"] == "Email Marked as Spam" and spam["properties"]["complaint_feedback_type"] == "abuse"
    # A complaint's userAgent is the ISP's feedback-loop software, not the recipient's client.
    assert spam["context"] == {"traits": {"email": "recipient@example.com"}}


def test_event_publishing_subscription_unsubscribe_all() -> None:
    body = one("event-subscription.txt")
    assert body["event"] == "Email Unsubscribed"
    assert body["timestamp"] == "2022-01-12T01:00:17.910000Z"
    assert body["properties"] == {
        "email_id": "EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000",
        "email_subject": SUBJECT,
        "contact_list": "ContactListName",
        "subscription_source": "UnsubscribeHeader",
        "list_id": "ContactListName",
        "unsubscribe_all": True,
    }


@pytest.mark.parametrize(
    ("name", "kind"),
    [("event-send.txt", "Send"), ("event-reject.txt", "Reject"), ("event-rendering-failure.txt", "Rendering Failure"), ("event-delivery-delay.txt", "DeliveryDelay")],
)
def test_untranslated_types_are_counted(name: str, kind: str) -> None:
    assert translate(name) == ([], Counter({kind: 1}))


def test_notification_format_bounce_fans_out_per_recipient() -> None:
    bodies, ignored = translate("notification-bounce-no-dsn.txt")
    assert not ignored
    assert [(b["event"], b["anonymousId"]) for b in bodies] == [("Email Bounced", "jane@example.com"), ("Email Bounced", "richard@example.com")]
    assert [b["messageId"] for b in bodies] == ["47350948-a5ef-5e2b-b840-e31e83d32ab4", "2148d0a0-a8e6-5a17-ad44-18477ef7da3e"]  # one per recipient
    assert {b["properties"]["email_id"] for b in bodies} == {"00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000"}
    assert bodies[0]["properties"]["email_subject"] == "Hello"  # commonHeaders.subject


def test_notification_format_delivery_complaint_and_dsn_bounce() -> None:
    delivery = one("notification-delivery.txt")
    assert (delivery["event"], delivery["anonymousId"], delivery["properties"]["email_id"]) == (
        "Email Delivered", "jane@example.com", "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000")
    assert one("notification-complaint-no-feedback.txt")["anonymousId"] == "richard@example.com"
    assert one("notification-complaint-feedback.txt")["properties"]["complaint_feedback_type"] == "abuse"
    bounce = one("notification-bounce-dsn.txt")
    assert bounce["properties"]["diagnostic_code"] == "smtp; 550 5.1.1 <jane@example.com>... User"


def test_delivery_to_several_recipients_fans_out() -> None:
    env = with_record("event-delivery.txt", lambda r: r["delivery"].update(recipients=["a@example.com", "b@example.com"]))
    bodies, _ = translate(env)
    assert [b["anonymousId"] for b in bodies] == ["a@example.com", "b@example.com"]
    assert len({b["messageId"] for b in bodies}) == 2


def test_message_ids_are_deterministic_and_pinned() -> None:
    assert one("event-delivery.txt") == one("event-delivery.txt")
    # A literal: changing ids.NAMESPACE or the derivation would break de-duplication downstream.
    assert one("event-delivery.txt")["messageId"] == "6cbb2aa1-769d-507b-a72f-518fc9b42e13"
    assert sns_id("event-delivery.txt") == "4b0640b1-40e2-5cd4-a61e-b0ba085c8ea1"


# ---- policy ------------------------------------------------------------------------------------------


def transient(r: dict[str, Any]) -> None:
    r["bounce"].update(bounceType="Transient", bounceSubType="MailboxFull")


def test_transient_bounce_is_a_soft_bounce_by_policy() -> None:
    env = with_record("event-bounce.txt", transient)
    assert translate(env) == ([], Counter({"Bounce:Transient": 1}))
    body = one(env, SES_SOFT_BOUNCES="bounce")
    assert body["properties"]["bounce_type"] == "Transient"
    assert one(env, EMAIL_SOFT_BOUNCES="bounce")["event"] == "Email Bounced"


@pytest.mark.parametrize(
    ("change", "counted"),
    [
        (lambda r: r["complaint"].update(complaintFeedbackType="not-spam"), "Complaint:not-spam"),
        (lambda r: r["complaint"].update(complaintSubType="OnAccountSuppressionList"), "Complaint:OnAccountSuppressionList"),
    ],
)
def test_complaints_that_are_not_spam_reports(change, counted: str) -> None:
    assert translate(with_record("event-complaint.txt", change)) == ([], Counter({counted: 1}))


@pytest.mark.parametrize("name", ["event-open.txt", "event-click.txt", "event-subscription.txt"])
def test_engagement_with_several_destinations_is_not_attributed(name: str) -> None:
    env = with_record(name, lambda r: r["mail"].update(destination=["a@example.com", "b@example.com"]))
    kind = record(name)["eventType"]
    assert translate(env) == ([], Counter({f"{kind}:several_recipients": 1}))


def topic_opt_out(r: dict[str, Any]) -> None:
    r["subscription"]["newTopicPreferences"] = {"unsubscribeAll": False, "topicSubscriptionStatus": [{"topicName": "Weekly", "subscriptionStatus": "OptOut"}, {"topicName": "Offers", "subscriptionStatus": "OptIn"}]}
    r["subscription"]["oldTopicPreferences"] = {"unsubscribeAll": False, "topicSubscriptionStatus": [{"topicName": "Weekly", "subscriptionStatus": "OptIn"}]}


def test_topic_opt_out_is_a_group_unsubscribe() -> None:
    env = with_record("event-subscription.txt", topic_opt_out)
    body = one(env)
    assert body["properties"]["list_id"] == "Weekly" and body["properties"]["contact_list"] == "ContactListName"
    assert "unsubscribe_all" not in body["properties"]
    assert translate(env, SES_GROUP_UNSUBSCRIBES="ignore") == ([], Counter({"Subscription:topic_opt_out": 1}))


def test_opt_in_is_counted() -> None:
    def opt_in(r: dict[str, Any]) -> None:
        r["subscription"]["newTopicPreferences"] = {"unsubscribeAll": False, "topicSubscriptionStatus": [{"topicName": "Weekly", "subscriptionStatus": "OptIn"}]}
        r["subscription"]["oldTopicPreferences"] = {"unsubscribeAll": False, "topicSubscriptionStatus": [{"topicName": "Weekly", "subscriptionStatus": "OptOut"}]}

    assert translate(with_record("event-subscription.txt", opt_in)) == ([], Counter({"Subscription:no_opt_out": 1}))


# ---- identity, campaign ---------------------------------------------------------------------------------


def test_user_id_from_a_message_tag_and_email_stays_a_trait() -> None:
    env = with_record("event-delivery.txt", lambda r: r["mail"]["tags"].update(user_id=["u-42"]))
    body = one(env)
    assert body["userId"] == "u-42" and "anonymousId" not in body
    assert body["context"]["traits"]["email"] == "recipient@example.com"
    assert one("event-delivery.txt", SES_USER_ID_KEYS="missing,myCustomTag2")["userId"] == "myCustomTagValue2"
    assert one("event-delivery.txt", SES_EMAIL_AS="userId")["userId"] == "recipient@example.com"


def test_campaign_from_tags() -> None:
    env = with_record("event-open.txt", lambda r: r["mail"]["tags"].update(campaign_id=["c-7"], campaign_name=["Spring"]))
    assert one(env)["properties"] == {"email_id": SES_ID, "email_subject": SUBJECT, "campaign_id": "c-7", "campaign_name": "Spring"}
    assert one("event-open.txt", SES_CAMPAIGN_NAME_KEYS="myCustomTag1")["properties"]["campaign_name"] == "myCustomValue1"


# ---- payloads that cannot be translated ------------------------------------------------------------------


def test_a_non_ses_notification_goes_to_the_dlq() -> None:
    with pytest.raises(InvalidPayload, match="not an SES record"):
        source().translate(post((SAMPLES / "sns" / "notification.txt").read_bytes()))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r["mail"].pop("messageId"), "mail.messageId is missing"),
        (lambda r: r.pop("bounce"), "no bounce object"),
        (lambda r: r["bounce"].update(bouncedRecipients=[]), "not a list of recipients"),
        (lambda r: r.pop("eventType"), "no eventType"),
    ],
)
def test_records_that_cannot_be_translated(change, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        source().translate(post(with_record("event-bounce.txt", change)))
    assert "@" not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r["bounce"].update(timestamp="yesterday"), "Bounce recipient 0: Bounce record: timestamp is neither epoch time nor ISO-8601"),
        (lambda r: r["bounce"]["bouncedRecipients"][0].pop("emailAddress"), "Bounce recipient 0: no emailAddress"),
        (lambda r: r["bounce"]["bouncedRecipients"][0].update(emailAddress="two@example.com, three@example.com"), "Bounce recipient 0: not one email address"),
    ],
)
def test_a_recipient_that_cannot_be_translated_is_recorded(change, reason: str) -> None:
    translation = source().translate(post(with_record("event-bounce.txt", change)))
    assert not translation.events and translation.failed == [reason]
    assert "@" not in translation.failed[0]


def test_one_bad_recipient_does_not_hold_back_the_others() -> None:
    def two_recipients(record: dict[str, Any]) -> None:
        good = record["bounce"]["bouncedRecipients"][0]
        record["bounce"]["bouncedRecipients"] = [{"status": "5.1.1"}, good]

    translation = source().translate(post(with_record("event-bounce.txt", two_recipients)))
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Bounced"]
    assert translation.failed == ["Bounce recipient 0: no emailAddress"]


@pytest.mark.parametrize("sub_type", ["Suppressed", "OnAccountSuppressionList"])
def test_a_bounce_of_mail_never_sent_is_not_a_bounce(sub_type: str) -> None:
    # SES's bounce types: "Permanent/Suppressed: Amazon SES has suppressed sending to this address
    # because it has a recent history of bouncing"; OnAccountSuppressionList: "Amazon SES has
    # suppressed sending to this address because it is on the account-level suppression list".
    # Both are never sent: the email policy's never-sent rule (as SendGrid dropped).
    record = with_record("event-bounce.txt", lambda r: r["bounce"].update(bounceType="Permanent", bounceSubType=sub_type))
    assert translate(record) == ([], Counter({f"Bounce:{sub_type}": 1}))


def test_a_recipient_with_a_display_name_is_identified_by_the_address() -> None:
    # SES documents mail.destination as the recipients "as given" in the send (RFC 5322 form allowed).
    record = with_record("event-open.txt", lambda r: r["mail"].update(destination=["Recipient <Recipient@Example.com>"]))
    body = one(record)
    assert body["anonymousId"] == "recipient@example.com" and body["context"]["traits"]["email"] == "recipient@example.com"


def test_an_unknown_event_type_is_kept() -> None:
    translation = source().translate(post(with_record("event-send.txt", lambda r: r.update(eventType="Archive"))))
    assert translation.unknown == Counter({"Archive": 1}) and not translation.ignored


def test_amazon_ses_setup_notification_is_counted() -> None:
    env = envelope("event-send.txt")
    env["Message"] = json.dumps({"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "You have successfully subscribed your Amazon SNS topic"})
    assert translate(env) == ([], Counter({"AmazonSnsSubscriptionSucceeded": 1}))


# ---- SNS signatures ----------------------------------------------------------------------------------


def test_string_to_sign_follows_the_documented_field_lists() -> None:
    note = {"Type": "Notification", "MessageId": "m", "TopicArn": "t", "Message": "x\ny", "Timestamp": "ts", "Subject": "s", "UnsubscribeURL": "u"}
    assert string_to_sign(note) == b"Message\nx\ny\nMessageId\nm\nSubject\ns\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
    assert string_to_sign({k: v for k, v in note.items() if k != "Subject"}) == b"Message\nx\ny\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
    confirm = json.loads((SAMPLES / "sns" / "subscription-confirmation.txt").read_text())
    text = string_to_sign(confirm).decode()
    expected = "".join(f"{name}\n{confirm[name]}\n" for name in ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"))
    assert text == expected and text.startswith("Message\nYou have chosen to subscribe")
    assert "SigningCertURL" not in text and "Signature" not in text


@pytest.mark.parametrize("version", ["1", "2"])
def test_valid_signature_v1_and_v2(key, https, version: str) -> None:
    ses = source(https)
    request = signed(envelope("event-bounce.txt"), key, version=version)
    ses.authenticate(request)
    assert https.urls == [CERT_URL]
    assert [e.name for e in ses.translate(request).events] == ["Email Bounced"]


def test_certificate_is_fetched_once_and_cached(key, https) -> None:
    ses = source(https)
    ses.authenticate(signed(envelope("event-bounce.txt"), key))
    ses.authenticate(signed(envelope("event-open.txt"), key))
    assert https.urls == [CERT_URL]


def tamper(request: WebhookRequest, **fields: Any) -> WebhookRequest:
    env = json.loads(request.body)
    env.update(fields)
    return dataclasses.replace(request, body=json.dumps(env).encode())


def test_forged_messages_are_refused(key, https) -> None:
    ses = source(https)
    request = signed(envelope("event-bounce.txt"), key)
    env = json.loads(request.body)
    forged = [
        tamper(request, Message=env["Message"].replace("recipient@example.com", "victim@example.com")),
        tamper(request, MessageId="another-id"),
        tamper(request, Timestamp="2026-11-23T12:00:01.000Z"),
        tamper(request, Type="SubscriptionConfirmation", SubscribeURL="https://sns.us-west-2.amazonaws.com/", Token="t"),
        tamper(request, Signature=base64.b64encode(b"x" * 256).decode()),
        tamper(request, SignatureVersion="2" if env["SignatureVersion"] == "1" else "1"),
    ]
    for request in forged:
        with pytest.raises(Unauthorized):
            ses.authenticate(request)


def test_a_signature_by_another_key_is_refused(https) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized, match="signature does not match"):
        source(https).authenticate(signed(envelope("event-bounce.txt"), other))


@pytest.mark.parametrize(
    ("signature", "version", "reason"),
    [("not base64!", "2", "not base64"), ("AAAA", "3", "unknown SNS SignatureVersion")],
)
def test_malformed_signature_fields(key, https, signature: str, version: str, reason: str) -> None:
    request = tamper(signed(envelope("event-bounce.txt"), key), Signature=signature, SignatureVersion=version)
    with pytest.raises(Unauthorized, match=reason):
        source(https).authenticate(request)


def test_stale_and_future_messages_are_refused(key, https) -> None:
    ses = source(https)
    env = envelope("event-bounce.txt")
    with pytest.raises(Unauthorized, match="more than 86400 s old"):
        ses.authenticate(signed(env, key, at=NOW - timedelta(days=1, seconds=1)))
    ses.authenticate(signed(env, key, at=NOW - timedelta(hours=23)))
    with pytest.raises(Unauthorized, match="in the future"):
        ses.authenticate(signed(env, key, at=NOW + timedelta(seconds=301)))
    with pytest.raises(Unauthorized, match="more than 60 s old"):
        source(https, SES_MAX_AGE_SECONDS="60").authenticate(signed(env, key, at=NOW - timedelta(seconds=61)))
    source(https, SES_MAX_AGE_SECONDS="0").authenticate(signed(env, key, at=NOW - timedelta(days=400)))
    with pytest.raises(NotConfigured):
        source(https, SES_MAX_AGE_SECONDS="-1").authenticate(signed(env, key))


def test_a_replay_inside_the_window_verifies_and_yields_the_same_events(key, https) -> None:
    ses = source(https)
    request = signed(envelope("event-bounce.txt"), key)
    ses.authenticate(request)
    replay = dataclasses.replace(request, received_at=NOW + timedelta(hours=2))
    ses.authenticate(replay)
    assert [e.messageId for e in ses.translate(replay).events] == [e.messageId for e in ses.translate(request).events]


def test_topic_not_allowed_is_refused_before_any_fetch(key, https) -> None:
    env = {**envelope("event-bounce.txt"), "TopicArn": "arn:aws:sns:us-west-2:999999999999:Other"}
    with pytest.raises(Unauthorized, match="not in SES_TOPIC_ARNS"):
        source(https).authenticate(signed(env, key))
    assert https.urls == []
    source(https, SES_TOPIC_ARNS=f"arn:aws:sns:us-east-1:1:a, {env['TopicArn']}").authenticate(signed(env, key))


def test_no_topic_allow_list_fails_closed_even_when_unsigned_is_allowed(key, https) -> None:
    ses = Ses(Settings({"CIOHOOKS_ALLOW_UNSIGNED": "true"}), http_get=https)
    with pytest.raises(NotConfigured, match="SES_TOPIC_ARNS"):
        ses.authenticate(signed(envelope("event-bounce.txt"), key))


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-west-2.amazonaws.com.evil.test/SimpleNotificationService-abc.pem",
        "https://amazonaws.com.evil.test/SimpleNotificationService-abc.pem",
        "https://evil.test/sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-west-2.amazonaws.com@evil.test/SimpleNotificationService-abc.pem",
        "https://user:pass@sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-west-2.amazonaws.com:8443/SimpleNotificationService-abc.pem",
        "https://s3.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://SNS.US-WEST-2.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
        "https://sns.us-west-2.amazonaws.com/other.pem",
        "https://sns.us-west-2.amazonaws.com/a/SimpleNotificationService-abc.pem",
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem?x=1",
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem#x",
        "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-../x.pem",
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_certificate_urls_outside_sns_are_refused(key, https, url: str) -> None:
    with pytest.raises(Unauthorized):
        check_certificate_url(url)
    with pytest.raises(Unauthorized, match="SigningCertURL|SNS certificate URL"):
        source(https).authenticate(post(sign_envelope({**envelope("event-bounce.txt"), "Timestamp": "2026-11-23T12:00:00.000Z", "SigningCertURL": url}, key)))
    assert https.urls == []


@pytest.mark.parametrize(
    "url",
    [
        CERT_URL,
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
    ],
)
def test_sns_certificate_urls_pass(url: str) -> None:
    assert check_certificate_url(url) == url


def test_unreachable_certificate_is_a_retryable_failure(key, cert) -> None:
    with pytest.raises(CertificateUnavailable) as caught:
        source(FakeHttps(pem(cert), fail=True)).authenticate(signed(envelope("event-bounce.txt"), key))
    assert isinstance(caught.value, Unavailable)  # answered 503: SNS retries 5xx


@pytest.mark.parametrize("served", [b"<html>not a certificate</html>", b""])
def test_a_url_that_serves_no_certificate_is_refused(key, served: bytes) -> None:
    with pytest.raises(Unauthorized, match="did not return an RSA certificate"):
        source(FakeHttps(served)).authenticate(signed(envelope("event-bounce.txt"), key))


def test_an_expired_certificate_is_refused(key) -> None:
    old = make_certificate(key, datetime(2010, 1, 1, tzinfo=UTC), datetime(2011, 1, 1, tzinfo=UTC))
    with pytest.raises(Unauthorized, match="not valid at the time"):
        source(FakeHttps(pem(old))).authenticate(signed(envelope("event-bounce.txt"), key))


def test_message_type_header_must_agree_with_the_signed_type(key, https) -> None:
    request = signed(envelope("event-bounce.txt"), key)
    request = dataclasses.replace(request, headers={**request.headers, "x-amz-sns-message-type": "SubscriptionConfirmation"})
    with pytest.raises(Unauthorized, match="disagrees"):
        source(https).authenticate(request)


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'{"Type": "Other"}', b'{"Type": "Notification", "Message": "x"}'])
def test_bodies_that_are_not_sns_messages_are_refused(https, body: bytes) -> None:
    with pytest.raises(Unauthorized):
        source(https).authenticate(post(body))


def test_raw_message_delivery_is_refused(https) -> None:
    with pytest.raises(Unauthorized):
        source(https).authenticate(post(json.dumps(record("event-bounce.txt")).encode()))


# ---- the subscription handshake ------------------------------------------------------------------------


def confirmation(name: str, key) -> WebhookRequest:
    return signed(json.loads((SAMPLES / "sns" / name).read_text()), key)


def test_subscription_confirmation_is_confirmed_after_verification(key, https) -> None:
    ses = source(https)
    request = confirmation("subscription-confirmation.txt", key)
    ses.authenticate(request)
    reply = ses.reply_after_accept(request)
    assert reply is not None and reply.status == 200
    subscribe_url = json.loads(request.body)["SubscribeURL"]
    assert https.urls == [CERT_URL, subscribe_url]


def test_failed_confirmation_answers_5xx_so_sns_retries(key, cert) -> None:
    getter = FakeHttps(pem(cert))
    ses = source(getter)
    request = confirmation("subscription-confirmation.txt", key)
    ses.authenticate(request)
    getter.fail = True
    reply = ses.reply_after_accept(request)
    assert reply is not None and reply.status == 502


def test_unsubscribe_confirmation_is_not_reconfirmed(key, https) -> None:
    ses = source(https)
    request = confirmation("unsubscribe-confirmation.txt", key)
    ses.authenticate(request)
    reply = ses.reply_after_accept(request)
    assert reply is not None and reply.status == 200
    assert https.urls == [CERT_URL]  # the certificate only: no GET of SubscribeURL


def test_notifications_get_no_handshake_reply(key, https) -> None:
    assert source(https).reply_after_accept(signed(envelope("event-bounce.txt"), key)) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=t",
        "http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=t",
        "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=t",
        "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:1:Other&Token=t",
        "https://sns.us-west-2.amazonaws.com/x?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=t",
    ],
)
def test_subscribe_urls_outside_sns_are_never_fetched(key, https, url: str) -> None:
    with pytest.raises(Unauthorized):
        check_subscribe_url(url, TOPIC)
    env = {**json.loads((SAMPLES / "sns" / "subscription-confirmation.txt").read_text()), "SubscribeURL": url}
    ses = source(https)
    request = signed(env, key)
    ses.authenticate(request)
    reply = ses.reply_after_accept(request)
    assert reply is not None and reply.status == 400
    assert https.urls == [CERT_URL]


def test_confirmation_through_ingest_queues_nothing(key, cert, monkeypatch) -> None:
    getter = FakeHttps(pem(cert))
    monkeypatch.setattr(ses_module, "default_http_get", getter)
    delivery, dead = MemoryQueue(), MemoryQueue()
    ingest = Ingest("email", delivery, dead, Settings({"CIOHOOKS_SES_TOPIC_ARNS": TOPIC}))
    request = confirmation("subscription-confirmation.txt", key)
    outcome = ingest.handle("ses", request)
    assert outcome.status == 200
    assert delivery.approximate_depth() == 0 and dead.approximate_depth() == 0
    assert getter.urls[-1].startswith("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription")
    # A notification through the same path is queued.
    assert ingest.handle("ses", signed(envelope("event-bounce.txt"), key)).status == 200
    assert delivery.approximate_depth() == 1


# ---- the local-only pinned certificate and sign() --------------------------------------------------------


def test_local_keys_sign_and_verify_with_the_pinned_certificate(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(local_keys(KEYS))
    assert settings.get("SES_CERTIFICATE_PEM") and TOPIC in settings.get_list("SES_TOPIC_ARNS")

    def no_network(url: str) -> bytes:
        raise AssertionError("a pinned certificate must not be fetched")

    ses = Ses(settings, http_get=no_network)
    unsigned = post(envelope("event-click.txt"), received=NOW)
    request = Ses.sign(unsigned, (KEYS / "ses-local.pem").read_text())
    assert request.header("x-amz-sns-message-type") == "Notification"
    assert json.loads(request.body)["Timestamp"] == "2026-11-23T12:00:00.000Z"
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.ses"):
        ses.authenticate(request)
    assert "LOCAL-ONLY" in caplog.text
    assert [e.messageId for e in ses.translate(request).events] == [e.messageId for e in ses.translate(unsigned).events]
    # The pinned certificate does not loosen the host rule.
    with pytest.raises(Unauthorized):
        ses.authenticate(tamper(request, SigningCertURL="https://evil.test/SimpleNotificationService-x.pem"))


def test_pinned_certificate_that_is_not_one_is_a_configuration_error(key, https) -> None:
    with pytest.raises(NotConfigured, match="SES_CERTIFICATE_PEM"):
        source(https, SES_CERTIFICATE_PEM="bm90IGEgY2VydA==").authenticate(signed(envelope("event-bounce.txt"), key))


def test_sign_puts_a_valid_sns_url_in_samples_that_have_none(key, cert) -> None:
    env = {k: v for k, v in envelope("event-bounce.txt").items() if k != "SigningCertURL"}
    request = Ses.sign(post(env), key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
    url = json.loads(request.body)["SigningCertURL"]
    assert check_certificate_url(url) == url
    Ses(Settings({"CIOHOOKS_SES_TOPIC_ARNS": TOPIC}), http_get=FakeHttps(pem(cert))).authenticate(request)


def test_catalog_loads_this_source() -> None:
    assert load(NAME) is Ses is SOURCE
    assert Ses.methods == ("POST",) and Ses.ack_status == 200


def test_serve_lists_the_eventbridge_source_apart_and_each_route_with_its_methods():
    from ciohooks.local import route_list

    listed = route_list()
    routes, _, apart = listed.partition("; not over HTTP: ")
    assert apart == "/ses-eventbridge (eventbridge: make invoke)"
    assert "/ses-eventbridge" not in routes
    assert "POST /ses" in routes.split(", ") and "GET /adjust" in routes.split(", ") and "GET|POST /appsflyer" in routes.split(", ")
