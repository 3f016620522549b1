"""SendGrid Event Webhook source: mapping of SendGrid's own samples, and the Signed Event Webhook.

Samples: events/samples/email/sendgrid (credited in its README.md). Signature vectors:
- sendgrid/sendgrid-python test/unit/test_eventwebhook.py @ 1dcc378bb90ed0d043c9dcfd239eb4c0b5501a81
  (payload = events/samples/email/sendgrid/signed-dropped.json);
- sendgrid/sendgrid-python test/test_eventwebhook.py @ 6b6d5aa4eef52f347b96e82c7968d04a418d9f54 and
  sendgrid/sendgrid-nodejs packages/eventwebhook/src/eventwebhook.spec.js (an older vector that signs
  a single object; the same constants in both libraries).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ciohooks.config import ConfigurationError
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from pydantic import ValidationError

from ciohooks.sources.email.sendgrid import _OPTIONAL_TYPES, SOURCE, SendGrid, SendGridEvent, load_public_keys, parse_batch, typed_fields, verify, x_message_id
from tests.support.signers import new_sendgrid_keypair, sign_sendgrid
from tests.support.sources import Harness

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "email" / "sendgrid"
SOURCE_NAME = "email/sendgrid"
DOCS_EMAIL = "example@test.com"  # the recipient in SendGrid's reference samples
DOCS_EMAIL_ID = "14c5d75ce93.dfd.64b469"  # their smtp-id is <14c5d75ce93.dfd.64b469@ismtpd-555>
DOCS_TIME = "2017-12-15T00:59:29Z"  # their timestamp 1513299569
DOCS_UA = "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)"

# sendgrid-python test/unit/test_eventwebhook.py (see module docstring)
VECTOR_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
VECTOR_SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
VECTOR_TIMESTAMP = "1600112502"
# The "bad key" and "bad signature" of the same official tests.
OTHER_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="
OTHER_SIGNATURE = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0="
# The older vector shared by sendgrid-python test/test_eventwebhook.py and sendgrid-nodejs eventwebhook.spec.js.
OLD_KEY = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
OLD_SIGNATURE = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
OLD_TIMESTAMP = "1588788367"
OLD_PAYLOAD = b'{"category":"example_payload","event":"test_event","message_id":"message_id"}'

# ---- helpers ------------------------------------------------------------------------------------

harness = Harness("email/sendgrid")
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample


def sample_events(name: str) -> list[dict[str, Any]]:
    return json.loads(sample(name))


def with_fields(name: str, **fields: Any) -> list[dict[str, Any]]:
    """A published sample with documented fields added or changed (to reach what the sample lacks)."""
    events = sample_events(name)
    events[0].update(fields)
    return events


def without(name: str, *keys: str) -> list[dict[str, Any]]:
    events = sample_events(name)
    for key in keys:
        del events[0][key]
    return events


def engaged(email: str = DOCS_EMAIL, ua: str = DOCS_UA) -> dict[str, Any]:
    return {"traits": {"email": email, "ip": "255.255.255.255", "user_agent": ua}}


# ---- the published samples, translated ----------------------------------------------------------

MAPPED = {
    "delivered.json": ("Email Delivered", "f8d49b2b-c4ce-5b8c-abee-2c39238d7f72", {}, {"traits": {"email": DOCS_EMAIL}}),
    "open.json": ("Email Opened", "7128e3a3-53f1-5065-9169-9f456b6a7b9e", {}, engaged()),
    "click.json": ("Email Link Clicked", "f0d2bf07-1704-5a38-8b44-0bdee9d1b5aa", {"link_url": "http://www.sendgrid.com/"}, engaged()),
    "bounce.json": (
        "Email Bounced",
        "b9d24433-63df-58af-bec4-de015d149746",
        {"reason": "500 unknown recipient", "status": "5.0.0", "type": "bounce"},
        {"traits": {"email": DOCS_EMAIL}},
    ),
    "spamreport.json": ("Email Marked as Spam", "372babe8-cb31-549e-b1b9-d778a6aa8fea", {}, {"traits": {"email": DOCS_EMAIL}}),
    "unsubscribe.json": ("Email Unsubscribed", "9d96cad0-7b07-53cb-863b-91e6b71a1266", {}, {"traits": {"email": DOCS_EMAIL}}),
    "group_unsubscribe.json": ("Email Unsubscribed", "6505cd16-8a82-5085-b8fa-be0146372cc7", {"list_id": "10"}, engaged()),
}
IGNORED = {"blocked.json": "bounce:blocked", "processed.json": "processed", "dropped.json": "dropped", "deferred.json": "deferred", "group_resubscribe.json": "group_resubscribe"}


@pytest.mark.parametrize("name", sorted(MAPPED))
def test_published_sample_translates_to_exactly_this(name: str) -> None:
    event_name, message_id, extra_properties, context = MAPPED[name]
    assert one(sample(name)) == {
        "type": "track",
        "event": event_name,
        "anonymousId": DOCS_EMAIL,
        "messageId": message_id,  # the UUIDv5 of the sample's sg_event_id
        "timestamp": DOCS_TIME,
        "properties": {"email_id": DOCS_EMAIL_ID, **extra_properties},
        "context": context,
    }


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_published_sample_of_an_untranslated_type_is_counted(name: str) -> None:
    assert translate(sample(name)) == ([], Counter({IGNORED[name]: 1}))


def test_every_published_sample_in_one_batch() -> None:
    names = sorted(MAPPED) + sorted(IGNORED)
    batch = [event for name in names for event in sample_events(name)]
    bodies, ignored = translate(batch)
    assert [b["event"] for b in bodies] == [MAPPED[n][0] for n in sorted(MAPPED)]
    assert ignored == Counter({"bounce:blocked": 1, "processed": 1, "dropped": 1, "deferred": 1, "group_resubscribe": 1})


def test_batch_sample_as_the_local_tools_post_it() -> None:
    bodies, ignored = translate(sample("batch.json"))
    assert [b["event"] for b in bodies] == [
        "Email Delivered", "Email Bounced", "Email Opened", "Email Link Clicked",
        "Email Marked as Spam", "Email Unsubscribed", "Email Unsubscribed",
    ]  # fmt: skip
    assert len({b["messageId"] for b in bodies}) == len(bodies)
    assert ignored == Counter({"processed": 1, "dropped": 1, "deferred": 1, "group_resubscribe": 1})


def test_message_id_is_pinned_and_deterministic() -> None:
    # A literal: changing ids.NAMESPACE or the derivation would break de-duplication downstream.
    assert one(sample("delivered.json"))["messageId"] == "f8d49b2b-c4ce-5b8c-abee-2c39238d7f72"


def test_an_event_without_sg_event_id_gets_a_content_id() -> None:
    events = without("delivered.json", "sg_event_id")
    body = one(events)
    assert body["messageId"] == "0cc74ee9-6e5d-5332-9a17-871fe629e654"  # UUIDv5 of the canonical event
    other = without("delivered.json", "sg_event_id")
    other[0]["timestamp"] += 1
    assert one(other)["messageId"] != body["messageId"]


def test_click_with_url_offset_custom_arg_and_category_array() -> None:
    # url_offset says which of identical links was clicked: passed on, but it is no link_id.
    body = one(sample("click-url-offset.json"))
    ua = sample_events("click-url-offset.json")[0]["useragent"]
    assert body == {
        "type": "track",
        "event": "Email Link Clicked",
        "anonymousId": "email@example.com",
        "messageId": "e3334d9a-86d6-50e9-b25c-57e2a2f2366f",  # UUIDv5 of "sendgrid_internal_event_id"
        "timestamp": "2009-08-11T00:00:00Z",
        "properties": {
            "email_id": "sendgrid_internal_message_id",
            "link_url": "http://yourdomain.com/blog/news.html",
            "url_offset": {"index": 0, "type": "html"},
        },
        "context": engaged("email@example.com", ua),
    }


def test_marketing_campaign_fields_become_campaign_id_and_name() -> None:
    body = one(sample("delivered-marketing-campaign.json"))
    assert body["properties"] == {"email_id": "fPJrJPIRTxC_obpgfTy74w", "campaign_id": "23314", "campaign_name": "unique args ab"}
    assert body["timestamp"] == "2015-09-15T20:45:11Z"


def test_open_passes_sg_machine_open_as_machine_open_when_sent() -> None:
    # sg_machine_open: documented on open events in the current reference (Apple Mail Privacy Protection).
    assert one(with_fields("open.json", sg_machine_open=True))["properties"]["machine_open"] is True
    assert "machine_open" not in one(sample("open.json"))["properties"]


def test_bounce_passes_bounce_classification_when_sent() -> None:
    body = one(with_fields("bounce.json", bounce_classification="Invalid Address"))
    assert body["properties"]["bounce_classification"] == "Invalid Address"
    assert "bounce_classification" not in one(sample("bounce.json"))["properties"]
    bare = one(without("bounce.json", "reason", "status", "type"))
    assert bare["properties"] == {"email_id": DOCS_EMAIL_ID}


def test_recipient_ip_only_on_engagement_events() -> None:
    # On delivery events SendGrid's ``ip`` is its own sending IP, not the recipient's.
    body = one(with_fields("delivered.json", ip="168.1.1.1", useragent="x"))
    assert body["context"] == {"traits": {"email": DOCS_EMAIL}}


def test_asynchronous_bounce_without_message_id_is_counted_not_failed() -> None:
    batch = without("bounce.json", "sg_message_id") + sample_events("delivered.json")
    bodies, ignored = translate(batch)
    assert [b["event"] for b in bodies] == ["Email Delivered"]
    assert ignored == Counter({"bounce:no_sg_message_id": 1})


def test_account_status_change_is_ignored_on_purpose() -> None:
    # SendGrid's reference, "Account status change event" (an account event, about no recipient).
    batch = [{"event": "account_status_change", "type": "compliance_suspend", "timestamp": 1}, *sample_events("open.json")]
    bodies, ignored = translate(batch)
    assert len(bodies) == 1 and ignored == Counter({"account_status_change": 1})


def test_an_unknown_event_type_is_kept_not_ignored() -> None:
    translation = harness.translation([{"event": "mystery_event", "timestamp": 1}, *sample_events("open.json")])
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Opened"]
    assert translation.unknown == Counter({"mystery_event": 1}) and not translation.ignored


def test_one_bad_event_does_not_sink_the_batch() -> None:
    translation = harness.translation([*with_fields("open.json", timestamp="soon"), *sample_events("click.json")])
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Link Clicked"]
    assert translation.failed == ["event 0 (open): invalid timestamp (int_parsing)"]


def test_empty_batch() -> None:
    assert translate(b"[]") == ([], Counter())


# ---- email_id ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sg_message_id", "expected"),
    [
        # legacy form: the X-Message-Id has dots of its own (SendGrid's reference samples)
        ("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "14c5d75ce93.dfd.64b469"),
        ("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000", "14c5d75ce93.dfd.64b469"),
        # current forms (sendgrid-python test vector; StrongGrid issue #504 for ".recvd-")
        ("LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0", "LRzXl_NHStOGhQ4kofSm_A"),
        ("56WoYBdESN6RyEn_7bJRKA.recvd-5b6594c664-csn64-1-65A9F4D1-A.0", "56WoYBdESN6RyEn_7bJRKA"),
        ("fPJrJPIRTxC_obpgfTy74w.stfilter-015.5185.55F883564.0", "fPJrJPIRTxC_obpgfTy74w"),
        ("sendgrid_internal_message_id", "sendgrid_internal_message_id"),
    ],
)
def test_x_message_id(sg_message_id: str, expected: str) -> None:
    assert x_message_id(sg_message_id) == expected


def test_every_event_of_one_message_gets_the_same_email_id_with_or_without_smtp_id() -> None:
    # SendGrid's reference samples of one message, the open as the current reference shows engagement
    # events (no smtp-id): with the old dotted X-Message-Id the two once gave different email_ids.
    batch = [*sample_events("delivered.json"), *without("open.json", "smtp-id"), *without("click.json", "smtp-id"), *sample_events("bounce.json")]
    bodies, _ = translate(batch)
    assert {body["properties"]["email_id"] for body in bodies} == {"14c5d75ce93.dfd.64b469"}


def test_email_id_can_be_the_whole_sg_message_id() -> None:
    body = one(sample("delivered.json"), SENDGRID_EMAIL_ID="sg_message_id")
    assert body["properties"]["email_id"] == "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"


# ---- identity, subject, campaign ------------------------------------------------------------------


def test_custom_arg_user_id_wins_and_email_stays_a_trait() -> None:
    body = one(with_fields("click.json", user_id="u-42"))
    assert body["userId"] == "u-42" and "anonymousId" not in body
    assert body["context"]["traits"]["email"] == DOCS_EMAIL


def test_user_id_keys_are_configurable_in_order() -> None:
    events = with_fields("open.json", userid="1123", account="a-9")
    assert one(events, SENDGRID_USER_ID_KEYS="account,userid")["userId"] == "a-9"
    assert one(events, SENDGRID_USER_ID_KEYS="missing,userid")["userId"] == "1123"


def test_email_as_user_id() -> None:
    body = one(sample("spamreport.json"), SENDGRID_EMAIL_AS="userId")
    assert body["userId"] == DOCS_EMAIL and "anonymousId" not in body


def test_subject_and_campaign_from_custom_args() -> None:
    events = with_fields("delivered-marketing-campaign.json", email_subject="Hello", campaign_id="c-1", campaign_name="Spring")
    assert one(events)["properties"] == {"email_id": "fPJrJPIRTxC_obpgfTy74w", "email_subject": "Hello", "campaign_id": "c-1", "campaign_name": "Spring"}
    events = with_fields("delivered.json", subj="Hi", cid="7", cname="Autumn")
    env = {"SENDGRID_SUBJECT_KEYS": "subj", "SENDGRID_CAMPAIGN_ID_KEYS": "cid", "SENDGRID_CAMPAIGN_NAME_KEYS": "cname"}
    assert one(events, **env)["properties"] == {"email_id": DOCS_EMAIL_ID, "email_subject": "Hi", "campaign_id": "7", "campaign_name": "Autumn"}


def test_first_category_is_campaign_name_only_when_configured() -> None:
    assert "campaign_name" not in one(sample("click-url-offset.json"))["properties"]
    on = {"SENDGRID_CATEGORY_AS_CAMPAIGN_NAME": "true"}
    assert one(sample("click-url-offset.json"), **on)["properties"]["campaign_name"] == "category1"
    assert one(sample("open.json"), **on)["properties"]["campaign_name"] == "cat facts"
    # an empty category array names nothing
    assert "campaign_name" not in one(with_fields("delivered-marketing-campaign.json", marketing_campaign_name=""), **on)["properties"]


# ---- payloads that cannot be translated -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"\xff\xfe", "body is not JSON"),
        (b'{"event": "delivered"}', "not an array"),
        (b'["delivered"]', "event 0 is a JSON str"),
        (b'[{"email": "example@test.com"}]', "event 0 has no event type"),
    ],
)
def test_a_body_that_is_not_an_event_array(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        parse_batch(body)
    with pytest.raises(InvalidPayload):
        source().translate(post(body))


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        (without("delivered.json", "sg_message_id"), r"event 1 \(delivered\): no sg_message_id"),
        (without("click.json", "email"), r"event 1 \(click\): invalid email \(missing\)"),
        (with_fields("open.json", email=""), r"event 1 \(open\): invalid email \(string_too_short\)"),
        (without("unsubscribe.json", "timestamp"), r"invalid timestamp \(missing\)"),
        (with_fields("spamreport.json", timestamp="yesterday"), r"invalid timestamp \(int_parsing\)"),
        (with_fields("delivered.json", timestamp=10**15), "timestamp out of range"),
        (without("group_unsubscribe.json", "asm_group_id"), "no asm_group_id"),
        (with_fields("click.json", url_offset="first"), r"invalid url_offset \(dict_type\)"),
    ],
)
def test_an_event_that_cannot_be_translated_is_recorded_and_the_others_are_sent(events: list[dict[str, Any]], reason: str) -> None:
    batch = sample_events("processed.json") + events + sample_events("delivered.json")
    translation = source().translate(post(batch))
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Delivered"]
    assert len(translation.failed) == 1 and re.search(reason, translation.failed[0]), translation.failed
    message = translation.failed[0]
    assert "@" not in message and "yesterday" not in message and "first" not in message, message


# ---- the Signed Event Webhook -----------------------------------------------------------------------

VECTOR_HEADERS = {
    "X-Twilio-Email-Event-Webhook-Signature": VECTOR_SIGNATURE,
    "X-Twilio-Email-Event-Webhook-Timestamp": VECTOR_TIMESTAMP,
}
VECTOR_TIME = int(VECTOR_TIMESTAMP)


def test_official_vector_verifies_byte_for_byte() -> None:
    verify(sample("signed-dropped.json"), VECTOR_HEADERS, VECTOR_KEY, now=VECTOR_TIME + 30)


def test_official_vector_through_the_source() -> None:
    request = post(sample("signed-dropped.json"), {k.lower(): v for k, v in VECTOR_HEADERS.items()}, received=VECTOR_TIME + 1)
    sendgrid = source(SENDGRID_VERIFICATION_KEY=VECTOR_KEY)
    sendgrid.authenticate(request)
    assert sendgrid.translate(request).ignored == Counter({"dropped": 1})


def test_older_vector_of_both_official_libraries_verifies() -> None:
    headers = {"x-twilio-email-event-webhook-signature": OLD_SIGNATURE, "x-twilio-email-event-webhook-timestamp": OLD_TIMESTAMP}
    verify(OLD_PAYLOAD, headers, OLD_KEY, now=int(OLD_TIMESTAMP))


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(
    ("body", "headers", "key"),
    [
        pytest.param(flip_last_byte(sample("signed-dropped.json")), VECTOR_HEADERS, VECTOR_KEY, id="tampered body"),
        pytest.param(sample("signed-dropped.json").replace(b"Bounced", b"bounced"), VECTOR_HEADERS, VECTOR_KEY, id="edited body"),
        pytest.param(sample("signed-dropped.json").rstrip(b"\r\n"), VECTOR_HEADERS, VECTOR_KEY, id="trailing CRLF dropped"),
        pytest.param(json.dumps(json.loads(sample("signed-dropped.json"))).encode(), VECTOR_HEADERS, VECTOR_KEY, id="re-serialised JSON"),
        pytest.param(sample("signed-dropped.json"), {**VECTOR_HEADERS, "X-Twilio-Email-Event-Webhook-Timestamp": str(VECTOR_TIME + 1)}, VECTOR_KEY, id="tampered timestamp"),
        pytest.param(sample("signed-dropped.json"), {**VECTOR_HEADERS, "X-Twilio-Email-Event-Webhook-Signature": OTHER_SIGNATURE}, VECTOR_KEY, id="other signature"),
        pytest.param(sample("signed-dropped.json"), VECTOR_HEADERS, OTHER_KEY, id="wrong key"),
        pytest.param(OLD_PAYLOAD, VECTOR_HEADERS, VECTOR_KEY, id="signature of another payload"),
    ],
)
def test_anything_but_the_signed_bytes_is_refused(body: bytes, headers: dict[str, str], key: str) -> None:
    with pytest.raises(Unauthorized, match="signature does not match"):
        verify(body, headers, key, now=VECTOR_TIME)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"X-Twilio-Email-Event-Webhook-Signature": VECTOR_SIGNATURE}, "missing"),
        ({"X-Twilio-Email-Event-Webhook-Timestamp": VECTOR_TIMESTAMP}, "missing"),
        ({**VECTOR_HEADERS, "X-Twilio-Email-Event-Webhook-Timestamp": "timestamp"}, "not unix seconds"),
        ({**VECTOR_HEADERS, "X-Twilio-Email-Event-Webhook-Timestamp": "-1600112502"}, "not unix seconds"),
        ({**VECTOR_HEADERS, "X-Twilio-Email-Event-Webhook-Signature": "not base64!"}, "not base64"),
        ({**VECTOR_HEADERS, "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(b"not DER").decode()}, "does not match"),
    ],
)
def test_malformed_headers_are_refused_with_a_short_reason(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason) as caught:
        verify(sample("signed-dropped.json"), headers, VECTOR_KEY, now=VECTOR_TIME)
    assert VECTOR_SIGNATURE not in str(caught.value) and "hello@world.com" not in str(caught.value)


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_timestamp_outside_the_tolerance_is_refused(offset: int) -> None:
    with pytest.raises(Unauthorized, match="more than 300 s from now"):
        verify(sample("signed-dropped.json"), VECTOR_HEADERS, VECTOR_KEY, now=VECTOR_TIME - offset)


def test_stale_timestamp_with_the_real_clock_is_refused() -> None:
    with pytest.raises(Unauthorized, match="from now"):
        verify(sample("signed-dropped.json"), VECTOR_HEADERS, VECTOR_KEY)


def test_tolerance_is_configurable() -> None:
    request = post(sample("signed-dropped.json"), VECTOR_HEADERS, received=VECTOR_TIME + 3600)
    with pytest.raises(Unauthorized):
        source(SENDGRID_VERIFICATION_KEY=VECTOR_KEY).authenticate(request)
    source(SENDGRID_VERIFICATION_KEY=VECTOR_KEY, SENDGRID_TOLERANCE_SECONDS="3600").authenticate(request)
    with pytest.raises(NotConfigured):
        source(SENDGRID_VERIFICATION_KEY=VECTOR_KEY, SENDGRID_TOLERANCE_SECONDS="-1").authenticate(request)


def test_no_key_fails_closed() -> None:
    request = post(sample("signed-dropped.json"), VECTOR_HEADERS, received=VECTOR_TIME)
    with pytest.raises(NotConfigured, match="SENDGRID_VERIFICATION_KEY"):
        source().authenticate(request)


def test_allow_unsigned_accepts_with_a_loud_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.sendgrid"):
        source(ALLOW_UNSIGNED="true").authenticate(post(sample("delivered.json")))
    assert "UNSIGNED" in caplog.text and DOCS_EMAIL not in caplog.text


def test_a_configured_key_is_checked_even_when_unsigned_is_allowed() -> None:
    with pytest.raises(Unauthorized):
        source(SENDGRID_VERIFICATION_KEY=VECTOR_KEY, ALLOW_UNSIGNED="true").authenticate(post(sample("delivered.json")))


@pytest.mark.parametrize("key", ["not a key", base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), " , "])
def test_a_key_that_is_not_a_p256_public_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(NotConfigured, match="SENDGRID_VERIFICATION_KEY") as caught:
        verify(sample("signed-dropped.json"), VECTOR_HEADERS, key, now=VECTOR_TIME)
    assert "not a key" not in str(caught.value)


def test_a_key_on_another_curve_is_a_configuration_error() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    der = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(NotConfigured, match="P-256"):
        load_public_keys(base64.b64encode(der).decode())


def test_round_trip_with_a_fresh_key_pair_and_a_base64_function_url_body() -> None:
    private_key, public_key = new_sendgrid_keypair()
    raw = sample("click-url-offset.json")
    headers = sign_sendgrid(private_key, raw, "1700000000")
    event = post(raw, headers, received=1_700_000_010).to_function_url_event()
    event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True  # as Lambda may deliver it
    request = WebhookRequest.from_function_url_event(event)
    sendgrid = source(SENDGRID_VERIFICATION_KEY=public_key)
    sendgrid.authenticate(request)
    assert [e.name for e in sendgrid.translate(request).events] == ["Email Link Clicked"]
    with pytest.raises(Unauthorized):
        source(SENDGRID_VERIFICATION_KEY=new_sendgrid_keypair()[1]).authenticate(request)


def test_signer_defaults_to_now_and_pem_keys_work() -> None:
    from cryptography.hazmat.primitives import serialization

    private_key, _ = new_sendgrid_keypair()
    pem = private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = sample("open.json")
    verify(raw, sign_sendgrid(private_key, raw), pem)
    verify(raw, sign_sendgrid(private_key, raw), private_key.public_key())


def test_any_of_several_keys_verifies_during_a_rotation() -> None:
    private_key, public_key = new_sendgrid_keypair()
    raw = sample("open.json")
    verify(raw, sign_sendgrid(private_key, raw), f"{VECTOR_KEY}, {public_key}")
    verify(sample("signed-dropped.json"), VECTOR_HEADERS, f"{public_key},{VECTOR_KEY}", now=VECTOR_TIME)


def test_catalog_loads_this_source() -> None:
    assert load("email/sendgrid") is SendGrid is SOURCE
    assert (SendGrid.family, SendGrid.name, SendGrid.full_name()) == ("email", "sendgrid", SOURCE_NAME)
    assert SendGrid.docs_url.startswith("https://www.twilio.com/docs/sendgrid/")


# ---- email policy (shared/ciohooks/sources/email/_policy.py) ------------------------------------


def test_blocks_are_not_bounces_by_default_and_can_be_counted() -> None:
    # SendGrid: "Blocks ... will not be added to a suppression list" (email policy: a block is not a bounce).
    assert translate(sample("blocked.json")) == ([], Counter({"bounce:blocked": 1}))
    assert one(sample("blocked.json"), SENDGRID_BLOCKS="bounce")["properties"]["type"] == "blocked"
    assert one(sample("blocked.json"), EMAIL_BLOCKS="bounce")["event"] == "Email Bounced"
    # a hard bounce is a bounce whatever the block policy says
    assert one(sample("bounce.json"), SENDGRID_BLOCKS="ignore")["event"] == "Email Bounced"


def test_group_unsubscribes_count_by_default_and_can_be_ignored() -> None:
    assert one(sample("group_unsubscribe.json"))["properties"]["list_id"] == "10"
    assert translate(sample("group_unsubscribe.json"), SENDGRID_GROUP_UNSUBSCRIBES="ignore") == ([], Counter({"group_unsubscribe:not_counted": 1}))
    # a global unsubscribe is never a group unsubscribe
    assert one(sample("unsubscribe.json"), SENDGRID_GROUP_UNSUBSCRIBES="ignore")["event"] == "Email Unsubscribed"


def test_machine_opens_are_kept_flagged_by_default_and_can_be_dropped() -> None:
    machine = with_fields("open.json", sg_machine_open=True)
    assert one(machine)["properties"]["machine_open"] is True
    assert translate(machine, SENDGRID_MACHINE_OPENS="drop") == ([], Counter({"open:machine": 1}))
    human = with_fields("open.json", sg_machine_open=False)
    assert one(human, SENDGRID_MACHINE_OPENS="drop")["properties"]["machine_open"] is False
    assert one(sample("open.json"), SENDGRID_MACHINE_OPENS="drop")["event"] == "Email Opened"


def test_soft_bounce_and_first_open_settings_change_nothing() -> None:
    # deferred is SendGrid's only soft-bounce-like event and stays ignored; opens carry no unique flag.
    assert translate(sample("deferred.json"), SENDGRID_SOFT_BOUNCES="bounce") == ([], Counter({"deferred": 1}))
    assert one(sample("open.json"), SENDGRID_OPENS="first")["event"] == "Email Opened"


def test_a_policy_value_that_is_not_a_choice_is_a_configuration_error_when_the_source_is_built() -> None:
    with pytest.raises(ConfigurationError, match="SENDGRID_BLOCKS"):
        source(SENDGRID_BLOCKS="maybe")
    with pytest.raises(ConfigurationError, match="SENDGRID_EMAIL_AS"):
        source(SENDGRID_EMAIL_AS="someone")


# ---- the fast path: an event already typed as the model types it skips the model, nothing else -----

ODD_VALUES = [None, "", "x", "12", "1.5", "true", "\ud800", 0, 7, -1, 1.0, 1.5, True, False, [], ["a"], ["a", 1], {}, {"index": 0}]


def field_variants() -> list[dict[str, Any]]:
    """SendGrid's samples, then each with one typed field set to each odd value (or removed)."""
    base = [e for name in ("batch.json", "signed-dropped.json") for e in sample_events(name) if isinstance(e, dict)]
    variants = list(base)
    click = next(e for e in base if e["event"] == "click")
    for name in ["email", "timestamp", "smtp_id", *_OPTIONAL_TYPES]:
        variants.append({k: v for k, v in click.items() if k != name})
        variants += [{**click, name: value} for value in ODD_VALUES]
    return variants


@pytest.mark.parametrize("raw", field_variants())
def test_the_fast_path_reads_exactly_what_the_model_gives(raw: dict[str, Any]) -> None:
    try:
        slow: dict[str, Any] | str = SendGridEvent.model_validate(raw).model_dump(by_alias=True)
    except ValidationError as error:
        slow = str(error)
    try:
        fast: Any = typed_fields(raw)
    except ValidationError as error:
        fast = str(error)
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
        return
    for name in ["event", "email", "timestamp", *_OPTIONAL_TYPES]:
        assert (fast.get(name), type(fast.get(name))) == (slow.get(name), type(slow.get(name))), name
