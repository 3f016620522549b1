"""Clerk webhooks: Clerk's published examples, and the Standard Webhooks (Svix) signature.

Samples: events/samples/mobile/clerk (credited in its README.md). Signature vector:
standard-webhooks/standard-webhooks libraries/python/tests/test_webhooks.py @
33d368b20c5543357f4f27fd13bed0703b8c5204 (``test_sign_function``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ciohooks.config import Settings
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources import _standard_webhooks as standard_webhooks
from ciohooks.sources.mobile.clerk import SOURCE, Clerk
from tests.support.spec import assert_valid_event

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "mobile" / "clerk"
SOURCE_NAME = "mobile/clerk"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks test secret
OTHER_SECRET = "whsec_YE8mvVVpPIEPp+XOMERLdohK6dF2KNuT"
NOW = 1716883200  # the user.deleted example's own timestamp
MSG_ID = "msg_2g7np7Hrk0SN6kj5EDMLDaKNL0S"


def verify(body: bytes, headers: dict[str, str], secret: str, *, now: float, tolerance_seconds: int = 300) -> str:
    """The shared Standard Webhooks check as Clerk's source runs it (Svix header names)."""
    request = WebhookRequest("POST", "/clerk", body, headers, received_at=datetime.fromtimestamp(now, UTC))
    return standard_webhooks.verify(request, secret, secret_name="CLERK_SIGNING_SECRET", tolerance_seconds=tolerance_seconds, prefixes=standard_webhooks.SVIX)


def sign(secret: str, body: bytes, msg_id: str, timestamp: int) -> dict[str, str]:
    """The headers Clerk.sign puts on ``body`` under ``msg_id``, signed at ``timestamp``."""
    request = WebhookRequest("POST", "/clerk", body, {"svix-id": msg_id}, received_at=datetime.fromtimestamp(timestamp, UTC))
    return dict(Clerk.sign(request, secret).headers)

# standard-webhooks test_sign_function
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = "1614265330"
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def source(**env: str) -> Clerk:
    return Clerk(Settings({f"CIOHOOKS_{k}": v for k, v in env.items()}))


def signed(body: bytes, *, secret: str = SECRET, msg_id: str = MSG_ID, at: int = NOW, received: int = NOW) -> WebhookRequest:
    headers = {"content-type": "application/json", **sign(secret, body, msg_id, at)}
    return WebhookRequest("POST", "/clerk", body, headers, received_at=datetime.fromtimestamp(received, UTC))


def translate(body: bytes, **env: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    translation = source(**env).translate(signed(body))
    bodies = [event.to_cio() for event in translation.events]
    for cio in bodies:
        assert_valid_event(cio)
    return bodies, translation.ignored


def deleted(**data: Any) -> bytes:
    event = json.loads(sample("user-deleted.json"))
    event["data"].update(data)
    return json.dumps(event).encode()


# ---- translation ---------------------------------------------------------------------------------


def test_the_source_is_found_by_its_route() -> None:
    assert load("mobile/clerk") is SOURCE


def test_user_deleted_example_becomes_user_deleted() -> None:
    assert translate(sample("user-deleted.json")) == (
        [
            {
                "type": "track",
                "event": "User Deleted",
                "userId": "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
                "messageId": "ba0a12e7-05d8-5183-823f-3122b44dd81c",  # UUIDv5 of the svix-id
                "timestamp": "2024-05-28T08:00:00Z",
            }
        ],
        Counter(),
    )


def test_message_id_follows_the_svix_id_so_retries_are_one_event() -> None:
    first = source().translate(signed(sample("user-deleted.json"), at=NOW)).events[0]
    retry = source().translate(signed(sample("user-deleted.json"), at=NOW + 3600)).events[0]
    other = source().translate(signed(sample("user-deleted.json"), msg_id="msg_other")).events[0]
    assert first.messageId == retry.messageId == "ba0a12e7-05d8-5183-823f-3122b44dd81c"
    assert other.messageId != first.messageId


def test_without_an_svix_id_the_body_gives_the_message_id() -> None:
    body = sample("user-deleted.json")
    request = WebhookRequest("POST", "/clerk", body, {})
    (event,) = source(ALLOW_UNSIGNED="1").translate(request).events
    assert event.messageId == "d76740b1-cca9-58b1-ac59-eb3e91228c0b"  # UUIDv5 of the body's canonical content


def test_millisecond_timestamps_as_the_docs_describe() -> None:
    event = json.loads(sample("user-deleted.json"))
    event["timestamp"] = 1661861640000
    assert translate(json.dumps(event).encode())[0][0]["timestamp"] == "2022-08-30T12:14:00Z"


def test_external_id_can_be_the_user_id() -> None:
    assert translate(sample("user-deleted.json"), CLERK_USER_ID_KEYS="external_id,id")[0][0]["userId"] == "ex_123456789"
    # without an external_id, the next key is used
    without = json.loads(sample("user-deleted.json"))
    del without["data"]["external_id"]
    assert translate(json.dumps(without).encode(), CLERK_USER_ID_KEYS="external_id,id")[0][0]["userId"] == "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"


def test_user_created_is_counted_not_sent() -> None:
    assert translate(sample("user-created.json")) == ([], Counter({"user.created": 1}))


@pytest.mark.parametrize("kind", ["user.updated", "session.created", "organization.deleted", "email.created"])
def test_other_types_are_counted_by_type(kind: str) -> None:
    event = json.loads(sample("user-created.json"))
    event["type"] = kind
    assert translate(json.dumps(event).encode()) == ([], Counter({kind: 1}))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"[]", "not a Clerk event"),
        (b'{"data": {}}', "not a Clerk event"),
        (deleted(deleted=False), "not a deleted object"),
        (json.dumps({"type": "user.deleted", "object": "event"}).encode(), "not a deleted object"),
        (deleted(id=""), "no user id in id"),
        (deleted(id=None), "no user id in id"),
    ],
)
def test_what_cannot_be_translated(body: bytes, reason: str) -> None:
    if reason == "body is not JSON" or reason == "not a Clerk event":
        with pytest.raises(InvalidPayload, match=reason):
            source().translate(signed(body))
    else:  # a user.deleted that cannot be sent: kept with the reason
        translation = source().translate(signed(body))
        assert not translation.events and len(translation.failed) == 1 and reason in translation.failed[0]


def test_bad_timestamp_fails_without_repeating_it() -> None:
    event = json.loads(sample("user-deleted.json"))
    event["timestamp"] = "soon"
    failed = source().translate(signed(json.dumps(event).encode())).failed
    assert len(failed) == 1 and "timestamp" in failed[0] and "soon" not in failed[0]


def test_a_type_clerks_spec_does_not_list_is_unknown_and_kept() -> None:
    event = json.loads(sample("user-created.json"))
    event["type"] = "user.merged"
    translation = source().translate(signed(json.dumps(event).encode()))
    assert not translation.ignored and translation.unknown == Counter({"user.merged": 1})


# ---- the signature -------------------------------------------------------------------------------


def vector_headers(prefix: str = "svix") -> dict[str, str]:
    return {f"{prefix}-id": VECTOR_ID, f"{prefix}-timestamp": VECTOR_TIMESTAMP, f"{prefix}-signature": VECTOR_SIGNATURE}


@pytest.mark.parametrize("prefix", ["svix", "webhook"])
def test_the_standard_webhooks_vector_verifies(prefix: str) -> None:
    verify(VECTOR_BODY, vector_headers(prefix), SECRET, now=int(VECTOR_TIMESTAMP) + 10)
    verify(VECTOR_BODY, vector_headers(prefix), SECRET.removeprefix("whsec_"), now=int(VECTOR_TIMESTAMP))


def test_our_signer_reproduces_the_vector() -> None:
    assert sign(SECRET, VECTOR_BODY, VECTOR_ID, int(VECTOR_TIMESTAMP))["svix-signature"] == VECTOR_SIGNATURE


def test_one_good_signature_among_several_is_enough() -> None:
    headers = {**vector_headers(), "svix-signature": f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,xyz bogus v1,!!! {VECTOR_SIGNATURE}"}
    verify(VECTOR_BODY, headers, SECRET, now=int(VECTOR_TIMESTAMP))


@pytest.mark.parametrize(
    ("body", "headers", "secret"),
    [
        pytest.param(VECTOR_BODY.replace(b"4}", b"5}"), vector_headers(), SECRET, id="tampered body"),
        pytest.param(b'{"test":2432232314}', vector_headers(), SECRET, id="re-serialised JSON"),
        pytest.param(VECTOR_BODY, {**vector_headers(), "svix-id": "msg_other"}, SECRET, id="other message id"),
        pytest.param(VECTOR_BODY, {**vector_headers(), "svix-timestamp": str(int(VECTOR_TIMESTAMP) + 1)}, SECRET, id="tampered timestamp"),
        pytest.param(VECTOR_BODY, {**vector_headers(), "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uKR0c4RBIVDIGpU="}, SECRET, id="other signature"),
        pytest.param(VECTOR_BODY, {**vector_headers(), "svix-signature": VECTOR_SIGNATURE.replace("v1,", "v2,")}, SECRET, id="unknown version"),
        pytest.param(VECTOR_BODY, vector_headers(), OTHER_SECRET, id="wrong secret"),
    ],
)
def test_forged_requests_are_refused(body: bytes, headers: dict[str, str], secret: str) -> None:
    with pytest.raises(Unauthorized, match="svix-signature does not match"):
        verify(body, headers, secret, now=int(VECTOR_TIMESTAMP))


@pytest.mark.parametrize(
    ("drop", "change", "reason"),
    [
        ("svix-id", {}, "missing"),
        ("svix-timestamp", {}, "missing"),
        ("svix-signature", {}, "missing"),
        (None, {"svix-timestamp": "1614265330.5"}, "not unix seconds"),
        (None, {"svix-timestamp": "-1614265330"}, "not unix seconds"),
    ],
)
def test_incomplete_headers_are_refused(drop: str | None, change: dict[str, str], reason: str) -> None:
    headers = {k: v for k, v in vector_headers().items() if k != drop} | change
    with pytest.raises(Unauthorized, match=reason):
        verify(VECTOR_BODY, headers, SECRET, now=int(VECTOR_TIMESTAMP))


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_stale_or_future_timestamps_are_refused(offset: int) -> None:
    with pytest.raises(Unauthorized, match="more than 300 s"):
        verify(VECTOR_BODY, vector_headers(), SECRET, now=int(VECTOR_TIMESTAMP) - offset)


def test_the_window_is_measured_from_receipt_and_configurable() -> None:
    # Signed an hour before it was received: refused by default, accepted with a wider window.
    request = signed(sample("user-deleted.json"), at=NOW - 3600, received=NOW)
    with pytest.raises(Unauthorized, match="more than 300 s"):
        source(CLERK_SIGNING_SECRET=SECRET).authenticate(request)
    source(CLERK_SIGNING_SECRET=SECRET, CLERK_TOLERANCE_SECONDS="7200").authenticate(request)


def test_a_replay_inside_the_window_is_the_same_event() -> None:
    request = signed(sample("user-deleted.json"), received=NOW + 200)
    clerk = source(CLERK_SIGNING_SECRET=SECRET)
    clerk.authenticate(request)
    clerk.authenticate(request)
    assert clerk.translate(request).events == clerk.translate(request).events


def test_a_body_that_is_not_utf8_is_refused() -> None:
    body = b"\xff" + VECTOR_BODY
    headers = sign(SECRET, VECTOR_BODY, VECTOR_ID, NOW)
    with pytest.raises(Unauthorized, match="not UTF-8"):
        verify(body, headers, SECRET, now=NOW)


def test_source_authenticates_a_signed_sample() -> None:
    source(CLERK_SIGNING_SECRET=SECRET).authenticate(signed(sample("user-deleted.json")))


def test_source_sign_keeps_a_given_svix_id_and_is_reproducible() -> None:
    bare = WebhookRequest("POST", "/clerk", sample("user-deleted.json"), {"svix-id": MSG_ID}, received_at=datetime.fromtimestamp(NOW, UTC))
    once, twice = Clerk.sign(bare, SECRET), Clerk.sign(bare, SECRET)
    assert once.headers == twice.headers and once.headers["svix-id"] == MSG_ID
    source(CLERK_SIGNING_SECRET=SECRET).authenticate(once)
    derived = Clerk.sign(WebhookRequest("POST", "/clerk", b"{}", {}, received_at=bare.received_at), SECRET)
    assert derived.headers["svix-id"].startswith("msg_")


def test_a_wrong_secret_is_refused_through_the_source() -> None:
    with pytest.raises(Unauthorized):
        source(CLERK_SIGNING_SECRET=OTHER_SECRET).authenticate(signed(sample("user-deleted.json")))


def test_without_a_configured_secret_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured, match="CLERK_SIGNING_SECRET is not configured"):
        source().authenticate(signed(sample("user-deleted.json")))


def test_negative_tolerance_is_a_configuration_error() -> None:
    with pytest.raises(NotConfigured, match="CLERK_TOLERANCE_SECONDS"):
        source(CLERK_SIGNING_SECRET=SECRET, CLERK_TOLERANCE_SECONDS="-1").authenticate(signed(sample("user-deleted.json")))


def test_allow_unsigned_accepts_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        source(ALLOW_UNSIGNED="true").authenticate(WebhookRequest("POST", "/clerk", sample("user-deleted.json"), {}))
    assert "SECURITY" in caplog.text and "CLERK_SIGNING_SECRET" in caplog.text
