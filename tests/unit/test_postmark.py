"""Postmark webhooks: the samples in events/samples/email/postmark (credited in its README), the
bounce-type table, SubscriptionChange rules, the email policy, and Basic / secret-header auth."""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.email.postmark import SOURCE, Postmark
from tests.support.sources import Harness

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "email" / "postmark"
SOURCE_NAME = "email/postmark"
EMAIL = "john@example.com"
MESSAGE_ID = "00000000-0000-0000-0000-000000000000"
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36"
CREDENTIALS = "postmark-user:s3cret:with:colons"


harness = Harness("email/postmark")
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample


def record(name: str, **fields: Any) -> dict[str, Any]:
    data = json.loads(sample(name))
    data.update(fields)
    return data


def basic(credentials: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


# ---- the samples, translated ---------------------------------------------------------------------

ENGAGED = {"traits": {"email": EMAIL, "ip": "188.2.95.4", "user_agent": UA}}


def test_delivery() -> None:
    assert one(sample("delivery.json")) == {
        "type": "track",
        "event": "Email Delivered",
        "anonymousId": EMAIL,
        "messageId": "9047720c-02e6-5917-9259-319ad03f9d48",  # UUIDv5 of the canonical record
        "timestamp": "2022-09-02T11:49:27Z",
        "properties": {"email_id": MESSAGE_ID, "message_stream": "outbound"},
        "context": {"traits": {"email": EMAIL}},
    }


def test_hard_bounce() -> None:
    assert one(sample("bounce.json")) == {
        "type": "track",
        "event": "Email Bounced",
        "anonymousId": EMAIL,
        "messageId": "08527372-e7dc-5d0e-a2ad-3e5ca2fca7f3",  # UUIDv5 of "Bounce:42"
        "timestamp": "2022-09-02T14:29:19Z",
        "properties": {"email_id": MESSAGE_ID, "message_stream": "outbound", "email_subject": "Test subject",
                       "bounce_type": "HardBounce", "details": "Test bounce details"},
        "context": {"traits": {"email": EMAIL}},
    }  # fmt: skip


def test_spam_complaint_keeps_its_microseconds() -> None:
    body = one(sample("spam_complaint.json"))
    assert (body["event"], body["timestamp"], body["messageId"]) == ("Email Marked as Spam", "2022-09-02T14:29:57.123456Z", "25ba0dbc-050d-53bd-9e4d-1f259a8954c8")  # "SpamComplaint:42"
    assert body["properties"] == {"email_id": MESSAGE_ID, "message_stream": "outbound", "email_subject": "Test subject"}


def test_open() -> None:
    body = one(sample("open.json"))
    assert (body["event"], body["timestamp"], body["context"]) == ("Email Opened", "2022-09-02T14:30:47Z", ENGAGED)
    assert body["properties"] == {"email_id": MESSAGE_ID, "message_stream": "outbound", "first_open": True}


def test_click() -> None:
    body = one(sample("link_click.json"))
    assert (body["event"], body["timestamp"], body["context"]) == ("Email Link Clicked", "2022-09-02T14:31:09Z", ENGAGED)
    assert body["properties"] == {"email_id": MESSAGE_ID, "message_stream": "outbound", "link_url": "https://example.com"}


def test_subscription_change_caused_by_a_hard_bounce_is_not_an_unsubscribe() -> None:
    assert translate(sample("subscription_change.json")) == ([], Counter({"SubscriptionChange:HardBounce": 1}))


def test_a_recipients_own_unsubscribe_is_email_unsubscribed_with_the_stream() -> None:
    body = one(record("subscription_change.json", SuppressionReason="ManualSuppression"))
    assert (body["event"], body["timestamp"]) == ("Email Unsubscribed", "2022-09-02T14:32:30Z")
    assert body["properties"] == {"email_id": MESSAGE_ID, "message_stream": "outbound", "list_id": "outbound"}


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"SuppressionReason": "SpamComplaint"}, "SubscriptionChange:SpamComplaint"),
        ({"SuppressionReason": "ManualSuppression", "Origin": "Customer"}, "SubscriptionChange:ManualSuppression:Customer"),
        ({"SuppressionReason": "ManualSuppression", "Origin": "Admin"}, "SubscriptionChange:ManualSuppression:Admin"),
        ({"SuppressSending": False, "SuppressionReason": "ManualSuppression"}, "SubscriptionChange:resubscribe"),
    ],
)
def test_other_subscription_changes_are_counted(fields: dict[str, Any], key: str) -> None:
    assert translate(record("subscription_change.json", **fields)) == ([], Counter({key: 1}))


def test_unknown_record_types_are_kept() -> None:
    translation = harness.translation({"RecordType": "Outbound", "MessageID": "x"})
    assert translation.unknown == Counter({"Outbound": 1}) and not translation.ignored


def test_inbound_posted_here_is_ignored_on_purpose() -> None:
    # django-anymail's Postmark view knows RecordType "Inbound" (the inbound webhook's records).
    assert translate({"RecordType": "Inbound", "MessageID": "x"}) == ([], Counter({"Inbound": 1}))


def test_message_ids_are_deterministic_and_distinct() -> None:
    assert one(sample("open.json"))["messageId"] == "532b28fc-f5d4-5271-99f7-127643dc5a3a"
    later = record("open.json", ReceivedAt="2022-09-02T14:40:47Z")
    assert one(later)["messageId"] != one(sample("open.json"))["messageId"]


# ---- bounce types and policy ---------------------------------------------------------------------


@pytest.mark.parametrize("bounce_type", ["HardBounce", "BadEmailAddress"])
def test_hard_bounce_types(bounce_type: str) -> None:
    assert one(record("bounce.json", Type=bounce_type))["properties"]["bounce_type"] == bounce_type


@pytest.mark.parametrize("bounce_type", ["SoftBounce", "Transient", "DnsError"])
def test_soft_bounce_types_follow_the_soft_bounce_policy(bounce_type: str) -> None:
    assert translate(record("bounce.json", Type=bounce_type)) == ([], Counter({f"Bounce:{bounce_type}": 1}))
    assert one(record("bounce.json", Type=bounce_type), POSTMARK_SOFT_BOUNCES="bounce")["event"] == "Email Bounced"


@pytest.mark.parametrize("bounce_type", ["Blocked", "DMARCPolicy"])
def test_block_types_follow_the_block_policy(bounce_type: str) -> None:
    # Email policy: a block is not a bounce unless EMAIL_BLOCKS / POSTMARK_BLOCKS says bounce.
    assert translate(record("bounce.json", Type=bounce_type)) == ([], Counter({f"Bounce:{bounce_type}": 1}))
    assert one(record("bounce.json", Type=bounce_type), EMAIL_BLOCKS="bounce")["event"] == "Email Bounced"


@pytest.mark.parametrize(
    "bounce_type",
    ["AutoResponder", "AddressChange", "Subscribe", "Unsubscribe", "SpamNotification", "OpenRelayTest", "Unknown", "VirusNotification",
     "ChallengeVerification", "ManuallyDeactivated", "Unconfirmed", "SMTPApiError", "InboundError", "TemplateRenderingFailed"],
)  # fmt: skip
def test_bounce_records_that_are_not_failed_deliveries_are_counted(bounce_type: str) -> None:
    assert translate(record("bounce.json", Type=bounce_type), POSTMARK_SOFT_BOUNCES="bounce") == ([], Counter({f"Bounce:{bounce_type}": 1}))


def test_first_opens_only() -> None:
    assert one(sample("open.json"), POSTMARK_OPENS="first")["properties"]["first_open"] is True
    assert translate(record("open.json", FirstOpen=False), POSTMARK_OPENS="first") == ([], Counter({"Open:not_first": 1}))
    assert one(record("open.json", FirstOpen=False))["properties"]["first_open"] is False


# ---- identity ------------------------------------------------------------------------------------


def test_metadata_gives_the_user_id() -> None:
    body = one(sample("bounce.json"), POSTMARK_USER_ID_KEYS="example_2")
    assert body["userId"] == "value" and "anonymousId" not in body and body["context"]["traits"]["email"] == EMAIL
    assert one(record("delivery.json", Metadata={"user_id": "u-1"}))["userId"] == "u-1"
    assert one(sample("delivery.json"), POSTMARK_EMAIL_AS="userId")["userId"] == EMAIL


# ---- untranslatable ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<xml/>", "not JSON"),
        (b"[]", "not a Postmark record"),
        (b"{}", "no RecordType"),
        (record("bounce.json", Type=None), "no Type"),
        (record("delivery.json", Recipient=""), "no address in Recipient"),
        (record("open.json", MessageID=None), "no MessageID"),
        (record("delivery.json", DeliveredAt="last tuesday"), "DeliveredAt"),
    ],
)
def test_untranslatable_records_fail_without_values(body: bytes | dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        source().translate(post(body))
    assert "@" not in str(caught.value) and "tuesday" not in str(caught.value)


# ---- authentication ------------------------------------------------------------------------------


def test_basic_credentials_from_the_webhook_url() -> None:
    postmark = source(POSTMARK_BASIC_AUTH=CREDENTIALS)
    postmark.authenticate(post(sample("delivery.json"), basic(CREDENTIALS)))
    postmark.authenticate(post(sample("delivery.json"), {"authorization": basic(CREDENTIALS)["authorization"].replace("Basic", "basic")}))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        (basic("postmark-user:wrong"), "Postmark Basic Authorization header does not match"),
        (basic("other-user:s3cret:with:colons"), "Postmark Basic Authorization header does not match"),
        ({"authorization": "Bearer abc"}, "missing or malformed"),
        ({"authorization": "Basic !!!"}, "missing or malformed"),
        ({"authorization": "Basic " + base64.b64encode(b"nocolon").decode()}, "missing or malformed"),
    ],
)
def test_missing_or_wrong_basic_credentials_are_refused(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason) as caught:
        source(POSTMARK_BASIC_AUTH=CREDENTIALS).authenticate(post(sample("delivery.json"), headers))
    assert "s3cret" not in str(caught.value)


def test_secret_header() -> None:
    postmark = source(POSTMARK_SECRET_HEADER="X-Webhook-Secret", POSTMARK_SECRET="hdr-secret")
    postmark.authenticate(post(sample("delivery.json"), {"x-webhook-secret": "hdr-secret"}))
    with pytest.raises(Unauthorized, match="Postmark secret header does not match"):
        postmark.authenticate(post(sample("delivery.json"), {"x-webhook-secret": "hdr-secreT"}))
    with pytest.raises(Unauthorized, match="missing"):
        postmark.authenticate(post(sample("delivery.json"), basic(CREDENTIALS)))
    assert postmark.secret_headers == frozenset({"x-webhook-secret"})


def test_both_configured_means_both_must_match() -> None:
    postmark = source(POSTMARK_BASIC_AUTH=CREDENTIALS, POSTMARK_SECRET_HEADER="X-Webhook-Secret", POSTMARK_SECRET="hdr-secret")
    postmark.authenticate(post(sample("delivery.json"), {**basic(CREDENTIALS), "x-webhook-secret": "hdr-secret"}))
    with pytest.raises(Unauthorized):
        postmark.authenticate(post(sample("delivery.json"), basic(CREDENTIALS)))
    with pytest.raises(Unauthorized):
        postmark.authenticate(post(sample("delivery.json"), {"x-webhook-secret": "hdr-secret"}))


def test_nothing_or_half_configured_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    for env in ({}, {"POSTMARK_SECRET_HEADER": "X-Webhook-Secret"}, {"POSTMARK_SECRET": "hdr-secret"}):
        with pytest.raises(NotConfigured):
            source(**env).authenticate(post(sample("delivery.json"), basic(CREDENTIALS)))
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.postmark"):
        source(ALLOW_UNSIGNED="1").authenticate(post(sample("delivery.json")))
    assert "UNAUTHENTICATED" in caplog.text


def test_credentials_never_reach_the_queue() -> None:
    settings = Settings({"CIOHOOKS_POSTMARK_BASIC_AUTH": CREDENTIALS, "CIOHOOKS_POSTMARK_SECRET_HEADER": "X-Webhook-Secret", "CIOHOOKS_POSTMARK_SECRET": "hdr-secret"})
    delivery, dead = MemoryQueue(), MemoryQueue()
    ingest = Ingest("email", delivery, dead, settings)
    broken = record("delivery.json", Recipient="")  # untranslatable: the raw request goes to the DLQ
    outcome = ingest.handle("postmark", post(broken, {**basic(CREDENTIALS), "x-webhook-secret": "hdr-secret"}))
    assert outcome.status == 200 and dead.approximate_depth() == 1
    stored = json.dumps([m.body for m in dead.receive(max_messages=10, wait_seconds=0)])
    assert "hdr-secret" not in stored and base64.b64encode(CREDENTIALS.encode()).decode() not in stored


def test_sign_adds_the_basic_credentials() -> None:
    signed = Postmark.sign(post(sample("open.json")), CREDENTIALS)
    source(POSTMARK_BASIC_AUTH=CREDENTIALS).authenticate(signed)
    assert signed.body == sample("open.json")


def test_catalog_loads_this_source() -> None:
    assert load("email/postmark") is Postmark is SOURCE
    assert Postmark.full_name() == SOURCE_NAME
