"""Resend webhooks: Resend's documented samples translated, Svix / Standard Webhooks signatures.

Samples: events/samples/email/resend (credited in its README.md). Signature vector: the Standard
Webhooks / Svix published example (secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id
msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, body {"test": 2432232314}), which the
``standardwebhooks`` package reproduces; it is checked here through Resend's svix-* header names.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from ciohooks.config import Settings
from ciohooks.local import local_keys, signing_key
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources import _standard_webhooks as standard_webhooks
from ciohooks.sources.email.resend import SOURCE, Resend, tag_values
from tests.support.sources import Harness

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples" / "email" / "resend"
NAME = "email/resend"
EMAIL = "delivered@resend.dev"
EMAIL_ID = "56761188-7520-42d8-8898-ff6fc54ce618"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR = {"svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "svix-timestamp": "1614265330", "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
VECTOR_BODY = b'{"test": 2432232314}'
NOW = 1_700_000_000


harness = Harness("email/resend", received=NOW)
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample


def verify(body: bytes, headers: dict[str, str], secret: str, *, now: float, tolerance_seconds: int = 300) -> str:
    """The shared Standard Webhooks check as Resend's source runs it (Svix header names)."""
    request = WebhookRequest("POST", "/resend", body, headers, received_at=datetime.fromtimestamp(now, UTC))
    return standard_webhooks.verify(request, secret, secret_name="RESEND_WEBHOOK_SECRET", tolerance_seconds=tolerance_seconds, prefixes=standard_webhooks.SVIX)


def sign(secret: str, body: bytes, timestamp: int, msg_id: str | None = None) -> dict[str, str]:
    """The headers Resend.sign puts on ``body`` signed at ``timestamp``."""
    request = WebhookRequest("POST", "/resend", body, {"svix-id": msg_id} if msg_id else {}, received_at=datetime.fromtimestamp(timestamp, UTC))
    return dict(Resend.sign(request, secret).headers)


def event(name: str, **data: Any) -> dict[str, Any]:
    raw = json.loads(sample(name))
    raw["data"].update(data)
    return raw


# ---- the documented samples ---------------------------------------------------------------------


def test_delivered_exactly() -> None:
    assert one(sample("delivered.json")) == {
        "type": "track",
        "event": "Email Delivered",
        "anonymousId": EMAIL,
        "messageId": "6f4fcbb9-b838-50e7-bb61-7650d748ec75",  # UUIDv5 of the event's content id and the recipient
        "timestamp": "2024-02-22T23:41:12.126000Z",
        "properties": {
            "email_id": EMAIL_ID,
            "email_subject": "Sending this example",
            "campaign_id": "8b146471-e88e-4322-86af-016cd36fd216",
            "template_id": "43f68331-0622-4e15-8202-246a0388854b",
        },
        "context": {"traits": {"email": EMAIL}},
    }


def test_a_suppressed_bounce_was_never_sent_and_is_not_a_bounce() -> None:
    # Resend's own email.bounced example: Permanent / Suppressed, "on the suppression list" (never sent).
    assert translate(sample("bounced.json")) == ([], Counter({"email.bounced:Suppressed": 1}))
    on_account = event("bounced.json", bounce={"type": "Permanent", "subType": "OnAccountSuppressionList", "message": "x"})
    assert translate(on_account) == ([], Counter({"email.bounced:OnAccountSuppressionList": 1}))


def test_bounced_opened_clicked_complained() -> None:
    # Resend's bounced example with the sub-type of a bounce that was sent (SES's "General").
    general = event("bounced.json", bounce={**json.loads(sample("bounced.json"))["data"]["bounce"], "subType": "General"})
    bounce = one(general)
    assert bounce["event"] == "Email Bounced" and bounce["timestamp"] == "2026-11-22T23:41:12.126000Z"
    assert bounce["properties"] == {
        "email_id": EMAIL_ID,
        "email_subject": "Sending this example",
        "campaign_id": "8b146471-e88e-4322-86af-016cd36fd216",
        "template_id": "43f68331-0622-4e15-8202-246a0388854b",
        "message_id": "<111-222-333@email.example.com>",
        "bounce_type": "Permanent",
        "bounce_sub_type": "General",
        "reason": "The recipient's email address is on the suppression list because it has a recent history of producing hard bounces.",
    }
    assert one(sample("opened.json"))["event"] == "Email Opened"
    assert one(sample("complained.json"))["event"] == "Email Marked as Spam"
    click = one(sample("clicked.json"))
    assert click["event"] == "Email Link Clicked" and click["properties"]["link_url"] == "https://resend.com"
    assert click["timestamp"] == "2024-11-24T05:00:57.163000Z"  # click.timestamp, not created_at
    assert click["context"]["traits"] == {
        "email": EMAIL,
        "ip": "122.115.53.11",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.1 Safari/605.1.15",
    }


@pytest.mark.parametrize(
    ("name", "kind"),
    [("sent.json", "email.sent"), ("delivery_delayed.json", "email.delivery_delayed"), ("failed.json", "email.failed"), ("suppressed.json", "email.suppressed")],
)
def test_untranslated_types_are_counted(name: str, kind: str) -> None:
    assert translate(sample(name)) == ([], Counter({kind: 1}))


def test_other_families_are_counted() -> None:
    assert translate({"type": "contact.created", "created_at": "2024-11-22T23:41:12.126Z", "data": {"id": "c"}}) == ([], Counter({"contact.created": 1}))


def test_an_unknown_type_is_kept() -> None:
    translation = harness.translation({"type": "email.forwarded", "created_at": "2024-11-22T23:41:12.126Z", "data": {}})
    assert translation.unknown == Counter({"email.forwarded": 1}) and not translation.ignored


def test_a_recipient_with_a_display_name_is_identified_by_the_address_alone() -> None:
    # Resend echoes data.to as the send request gave it; its own examples write senders this way
    # ("Acme <onboarding@resend.dev>"), and a recipient may be written the same way.
    body = one(event("delivered.json", to=["Delivered Person <Delivered@Resend.dev>"]))
    assert body["anonymousId"] == "delivered@resend.dev"
    assert body["context"]["traits"] == {"email": "delivered@resend.dev"}


def test_a_recipient_that_is_no_address_fails_the_event() -> None:
    with pytest.raises(InvalidPayload, match="data.to is not one email address") as caught:
        source().translate(post(event("delivered.json", to=["not an address"])))
    assert "not an address" not in str(caught.value)


@pytest.mark.parametrize("name", ["delivered.json", "complained.json", "opened.json", "clicked.json"])
def test_an_event_of_a_message_to_several_recipients_is_not_attributed_to_a_guess(name: str) -> None:
    # django-anymail (anymail/webhooks/resend.py, from live tests): Resend sends one event per
    # recipient, cc and bcc included, "but no indication of which recipient an event applies to".
    raw = event(name, to=["a@example.com", "B <b@example.com>"])
    assert translate(raw) == ([], Counter({f"{raw['type']}:several_recipients": 1}))
    # the same address twice is one recipient
    assert one(event("delivered.json", to=["a@example.com", "a@example.com"]))["anonymousId"] == "a@example.com"


@pytest.mark.parametrize("kind", ["Transient", "Temporary"])
def test_temporary_bounces_follow_the_soft_bounce_policy(kind: str) -> None:
    raw = event("bounced.json", bounce={"message": "mailbox full", "subType": "MailboxFull", "type": kind})
    assert translate(raw) == ([], Counter({f"email.bounced:{kind}": 1}))
    assert one(raw, RESEND_SOFT_BOUNCES="bounce")["properties"]["bounce_type"] == kind


def test_message_id_is_deterministic_and_pinned() -> None:
    # A literal: changing ids.NAMESPACE or the derivation would break de-duplication downstream.
    assert one(sample("delivered.json"))["messageId"] == "6f4fcbb9-b838-50e7-bb61-7650d748ec75"
    assert one(sample("opened.json"))["messageId"] != one(sample("delivered.json"))["messageId"]


# ---- tags and identity --------------------------------------------------------------------------------


def test_tags_object_or_array() -> None:
    assert tag_values({"category": "welcome", "user_id": "1234567890"}) == {"category": "welcome", "user_id": "1234567890"}
    assert tag_values([{"name": "user_id", "value": "u-1"}, {"name": "x"}]) == {"user_id": "u-1"}
    assert tag_values(None) == {}


def test_user_id_from_tags() -> None:
    body = one(event("delivered.json", tags={"category": "welcome", "user_id": "1234567890"}))
    assert body["userId"] == "1234567890" and body["context"]["traits"]["email"] == EMAIL
    assert one(event("delivered.json", tags=[{"name": "user_id", "value": "u-7"}]))["userId"] == "u-7"
    assert one(sample("delivered.json"), RESEND_USER_ID_KEYS="category")["userId"] == "confirm_email"
    assert one(sample("delivered.json"), RESEND_EMAIL_AS="userId")["userId"] == EMAIL


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (event("delivered.json", to=[]), "not a list of addresses"),
        ({"type": "email.delivered"}, "no data object"),
    ],
)
def test_events_that_cannot_be_translated(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason) as caught:
        source().translate(post(raw))
    assert "@" not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (event("delivered.json", email_id=None), "no data.email_id"),
        (event("clicked.json", click={}), "no data.click.link"),
        ({"type": "email.delivered", "created_at": "soon", "data": json.loads(sample("delivered.json"))["data"]}, "neither epoch time nor ISO"),
    ],
)
def test_an_event_that_cannot_be_built_fails_whole(raw: dict[str, Any], reason: str) -> None:
    # Resend posts one event per request: it goes to the DLQ whole, with the reason.
    with pytest.raises(InvalidPayload, match=reason) as caught:
        source().translate(post(raw))
    assert "@" not in str(caught.value)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"data": {}}'])
def test_bodies_that_are_not_events(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        source().translate(post(body))


# ---- signatures --------------------------------------------------------------------------------------


def test_published_vector_verifies_with_svix_and_webhook_header_names() -> None:
    verify(VECTOR_BODY, VECTOR, SECRET, now=1614265330)
    verify(VECTOR_BODY, {k.replace("svix-", "webhook-"): v for k, v in VECTOR.items()}, SECRET, now=1614265330 + 299)
    verify(VECTOR_BODY, {k.upper(): v for k, v in VECTOR.items()}, SECRET, now=1614265330)


def test_any_of_several_signatures_and_unknown_versions() -> None:
    headers = {**VECTOR, "svix-signature": "v2,abc v1,AAAA " + VECTOR["svix-signature"] + " garbage"}
    verify(VECTOR_BODY, headers, SECRET, now=1614265330)


@pytest.mark.parametrize(
    ("body", "headers", "secret"),
    [
        pytest.param(b'{"test": 2432232315}', VECTOR, SECRET, id="tampered body"),
        pytest.param(VECTOR_BODY + b" ", VECTOR, SECRET, id="one space added"),
        pytest.param(VECTOR_BODY, {**VECTOR, "svix-id": "msg_other"}, SECRET, id="other id"),
        pytest.param(VECTOR_BODY, {**VECTOR, "svix-signature": "v1,g1hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, SECRET, id="other signature"),
        pytest.param(VECTOR_BODY, {**VECTOR, "svix-signature": "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, SECRET, id="wrong version"),
        pytest.param(VECTOR_BODY, VECTOR, "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==", id="wrong secret"),
    ],
)
def test_forged_requests_are_refused(body: bytes, headers: dict[str, str], secret: str) -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        verify(body, headers, secret, now=1614265330)


def test_a_changed_timestamp_is_refused() -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        verify(VECTOR_BODY, {**VECTOR, "svix-timestamp": "1614265331"}, SECRET, now=1614265330)


@pytest.mark.parametrize("offset", [-301, 301, 86400])
def test_stale_or_future_timestamps_are_refused(offset: int) -> None:
    with pytest.raises(Unauthorized, match="more than 300 s"):
        verify(VECTOR_BODY, VECTOR, SECRET, now=1614265330 + offset)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({k: v for k, v in VECTOR.items() if k != "svix-id"}, "missing"),
        ({k: v for k, v in VECTOR.items() if k != "svix-signature"}, "missing"),
        ({**VECTOR, "svix-timestamp": "1614265330.5"}, "not unix seconds"),
        ({**VECTOR, "svix-timestamp": "-1"}, "not unix seconds"),
    ],
)
def test_malformed_headers(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason):
        verify(VECTOR_BODY, headers, SECRET, now=1614265330)


def test_non_utf8_body_is_refused() -> None:
    with pytest.raises(Unauthorized, match="UTF-8"):
        verify(b"\xff\xfe", VECTOR, SECRET, now=1614265330)


def test_secret_that_is_not_whsec_base64_is_a_configuration_error() -> None:
    with pytest.raises(NotConfigured, match="RESEND_WEBHOOK_SECRET") as caught:
        verify(VECTOR_BODY, VECTOR, "whsec_%%%", now=1614265330)
    assert "%%%" not in str(caught.value)


def test_through_the_source_against_the_time_the_request_arrived() -> None:
    raw = sample("clicked.json")
    headers = sign(SECRET, raw, NOW)
    resend = source(RESEND_WEBHOOK_SECRET=SECRET)
    resend.authenticate(post(raw, headers, received=NOW + 10))
    with pytest.raises(Unauthorized, match="300 s"):
        resend.authenticate(post(raw, headers, received=NOW + 301))
    source(RESEND_WEBHOOK_SECRET=SECRET, RESEND_TOLERANCE_SECONDS="3600").authenticate(post(raw, headers, received=NOW + 3000))
    with pytest.raises(NotConfigured):
        source(RESEND_WEBHOOK_SECRET=SECRET, RESEND_TOLERANCE_SECONDS="-5").authenticate(post(raw, headers))


def test_sign_matches_the_library() -> None:
    headers = sign(SECRET, VECTOR_BODY, 1614265330, "msg_p5jXN8AQM9LWM0D4loKWxJek")
    assert headers == VECTOR
    assert headers["svix-signature"] == Webhook(SECRET).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", datetime.fromtimestamp(1614265330, UTC), VECTOR_BODY.decode())


def test_replay_within_the_window_is_accepted_and_harmless() -> None:
    raw = sample("delivered.json")
    request = Resend.sign(post(raw), SECRET)
    resend = source(RESEND_WEBHOOK_SECRET=SECRET)
    resend.authenticate(request)
    resend.authenticate(request)  # the same svix-id again: verifies ...
    assert [e.messageId for e in resend.translate(request).events] == [e.messageId for e in resend.translate(post(raw)).events]  # ... same ids


def test_no_secret_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(NotConfigured, match="RESEND_WEBHOOK_SECRET"):
        source().authenticate(post(VECTOR_BODY, VECTOR))
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.email.resend"):
        source(ALLOW_UNSIGNED="true").authenticate(post(VECTOR_BODY))
    assert "UNSIGNED" in caplog.text
    with pytest.raises(Unauthorized):
        source(RESEND_WEBHOOK_SECRET=SECRET, ALLOW_UNSIGNED="true").authenticate(post(VECTOR_BODY))


def test_local_key_signs_samples() -> None:
    request = Resend.sign(post(sample("opened.json")), signing_key(Resend, ROOT / "events" / "keys"))
    Resend(Settings(local_keys(ROOT / "events" / "keys"))).authenticate(request)


def test_catalog_loads_this_source() -> None:
    assert load(NAME) is Resend is SOURCE and Resend.ack_status == 200
