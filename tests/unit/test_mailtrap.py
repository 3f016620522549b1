"""Mailtrap Email Sending webhooks (email/mailtrap, a definition shipped with the product).

Payloads: django-anymail's Mailtrap tests (events/samples/email/mailtrap/README.md); the signature
test vector is the Mailtrap SDKs' shared cross-SDK fixture (mailtrap/mailtrap-python,
tests/unit/test_webhook_signature.py), used verbatim.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.sources import Unauthorized
from tests.support.sources import Harness

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples" / "email" / "mailtrap"

# The cross-SDK fixture: payload, signing secret and the signature every Mailtrap SDK must compute.
FIXTURE_PAYLOAD = (
    '{"event":"delivery","sending_stream":"transactional","category":"welcome",'
    '"message_id":"a8b1d8f6-1f8d-4a3c-9b2e-1a2b3c4d5e6f",'
    '"email":"recipient@example.com",'
    '"event_id":"f1e2d3c4-b5a6-7890-1234-567890abcdef",'
    '"timestamp":1716070000}'
)
FIXTURE_SIGNING_SECRET = "8d9a3c0e7f5b2d4a6c1e9f8b3a7d5c2e"
FIXTURE_EXPECTED_SIGNATURE = "6d262e2611cd09be1f948382b5c611d63b0e585c4c9c5e40139d6ac3876d5433"

harness = Harness("email/mailtrap", env={"MAILTRAP_SIGNING_SECRET": FIXTURE_SIGNING_SECRET})


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def signed(body: bytes, signature: str | None = None) -> WebhookRequest:
    request = harness.post(body)
    if signature is None:
        return sources.load("email/mailtrap").sign(request, FIXTURE_SIGNING_SECRET)
    return WebhookRequest(request.method, request.path, body, {**request.headers, "mailtrap-signature": signature})


# ---- authentication ------------------------------------------------------------------------------


def test_the_sdks_shared_fixture_verifies():
    harness.source().authenticate(signed(FIXTURE_PAYLOAD.encode(), FIXTURE_EXPECTED_SIGNATURE))


def test_our_signer_gives_the_fixture_signature():
    assert signed(FIXTURE_PAYLOAD.encode()).headers["mailtrap-signature"] == FIXTURE_EXPECTED_SIGNATURE


@pytest.mark.parametrize(
    "body,signature",
    [
        (FIXTURE_PAYLOAD.replace("delivery", "Delivery").encode(), FIXTURE_EXPECTED_SIGNATURE),  # one byte changed
        (FIXTURE_PAYLOAD.encode(), FIXTURE_EXPECTED_SIGNATURE[:31]),  # too short
        (FIXTURE_PAYLOAD.encode(), "z" * 64),  # not hex
        (FIXTURE_PAYLOAD.encode(), ""),
    ],
    ids=["tampered", "short", "not-hex", "empty"],
)
def test_a_wrong_signature_is_refused(body, signature):
    with pytest.raises(Unauthorized):
        harness.source().authenticate(signed(body, signature))


def test_another_secret_is_refused():
    with pytest.raises(Unauthorized):
        harness.source(MAILTRAP_SIGNING_SECRET="ffffffffffffffffffffffffffffffff").authenticate(signed(FIXTURE_PAYLOAD.encode(), FIXTURE_EXPECTED_SIGNATURE))


def test_unsigned_over_ingest_is_401_and_nothing_is_kept():
    ingest = Ingest("email", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_MAILTRAP_SIGNING_SECRET": FIXTURE_SIGNING_SECRET}))
    outcome = ingest.handle("mailtrap", harness.post((SAMPLES / "bounce.json").read_bytes()))
    assert outcome.status == 401
    assert ingest.delivery_queue.approximate_depth() == ingest.dead_letter_queue.approximate_depth() == 0


# ---- mapping ----------------------------------------------------------------------------------------


def test_delivery():
    one = harness.one(sample("delivery"))
    assert one["event"] == "Email Delivered"
    assert one["anonymousId"] == "receiver@example.com"
    assert one["timestamp"] == "2017-06-22T01:05:27Z"
    assert one["messageId"] == "70166a0e-b2a5-51f3-96d3-33c5b8b6caf6"  # UUIDv5 of email/mailtrap and event_id
    assert one["properties"] == {"email_id": "1df37d17-0286-4d8b-8edf-bc4ec5be86e6", "category": "password-reset", "sending_stream": "transactional"}


def test_bounce_carries_mailtraps_reason():
    one = harness.one(sample("bounce"))
    assert (one["event"], one["anonymousId"]) == ("Email Bounced", "invalid@example.com")
    assert one["properties"]["reason"].startswith("bounced (550 5.1.1")
    assert (one["properties"]["response_code"], one["properties"]["bounce_category"]) == (550, "hard")


def test_click_has_its_url_and_the_clickers_agent():
    one = harness.one(sample("click"))
    assert one["event"] == "Email Link Clicked"
    assert one["properties"]["link_url"] == "http://example.com/anymail"
    assert one["context"]["traits"] == {"email": "receiver@example.com", "ip": "192.168.1.42", "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_5) Chrome/58.0.3029.110)"}


@pytest.mark.parametrize(("name", "event"), [("open", "Email Opened"), ("spam", "Email Marked as Spam"), ("unsubscribe", "Email Unsubscribed")])
def test_engagement_and_opt_outs(name, event):
    assert harness.one(sample(name))["event"] == event


@pytest.mark.parametrize(("name", "kind"), [("soft-bounce", "soft bounce"), ("suspension", "suspension"), ("reject", "reject")])
def test_not_yet_sent_or_never_sent_is_ignored_with_its_reason(name, kind):
    events, ignored = harness.translate(sample(name))
    assert (events, dict(ignored)) == ([], {kind: 1})


def test_a_user_id_custom_variable_is_the_user_id():
    body = sample("click")
    body["events"][0]["custom_variables"] = {"user_id": "u-42"}
    one = harness.one(body)
    assert one["userId"] == "u-42" and "anonymousId" not in one


def test_a_batch_is_one_event_per_item_and_a_bad_item_does_not_hold_back_the_rest():
    items = [sample("delivery")["events"][0], {**sample("open")["events"][0], "event_id": "e-2"}, {**sample("click")["events"][0], "event_id": "e-3", "timestamp": "yesterday"}]
    translation = harness.source().translate(harness.post({"events": items}))
    assert [e.to_cio()["event"] for e in translation.events] == ["Email Delivered", "Email Opened"]
    assert len(translation.failed) == 1


def test_an_undocumented_type_is_unknown_and_kept():
    body = sample("delivery")
    body["events"][0]["event"] = "spam complaint"
    translation = harness.source().translate(harness.post(body))
    assert dict(translation.unknown) == {"spam complaint": 1} and not translation.events
