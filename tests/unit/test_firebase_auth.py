"""Firebase Auth events forwarded as CloudEvents (structured, binary, batch) or legacy events.

Samples: events/samples/mobile/firebase-auth (the Functions Framework conformance fixtures and
deletion variants derived from them; credited in its README.md).
"""

from __future__ import annotations

import json
import re
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ciohooks.config import Settings
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.mobile.firebase_auth import SOURCE, FirebaseAuth
from tests.support.spec import assert_valid_event

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "mobile" / "firebase-auth"
SOURCE_NAME = "mobile/firebase-auth"
TOKEN = "test-firebase-token-77a1"
UID = "UUpby3s4spZre6kHsgVSPetzQ8l2"
EVENT_ID = "aaaaaa-1111-bbbb-2222-cccccccccccc"
USER_DELETED = {
    "type": "track",
    "event": "User Deleted",
    "userId": UID,
    "messageId": "566a5678-f397-598c-a947-3234859e2cd6",  # UUIDv5 of the CloudEvent id
    "timestamp": "2020-09-29T11:32:00Z",
}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def meta_headers(name: str) -> dict[str, str]:
    meta = SAMPLES / name.replace(".json", ".meta.json")
    return json.loads(meta.read_text())["headers"] if meta.exists() else {"content-type": "application/json"}


def source(**env: str) -> FirebaseAuth:
    return FirebaseAuth(Settings({f"CIOHOOKS_{k}": v for k, v in env.items()}))


def post(body: bytes | Any, headers: dict[str, str] | None = None, token: str | None = TOKEN) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {**(headers or {"content-type": "application/json"}), **({"authorization": f"Bearer {token}"} if token else {})}
    return WebhookRequest("POST", "/firebase-auth", raw, all_headers)


def translate_request(request: WebhookRequest) -> tuple[list[dict[str, Any]], Counter[str]]:
    translation = source().translate(request)
    bodies = [event.to_cio() for event in translation.events]
    for cio in bodies:
        assert_valid_event(cio)
    return bodies, translation.ignored


def translate_sample(name: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    return translate_request(post(sample(name), meta_headers(name)))


# ---- translation ---------------------------------------------------------------------------------


def test_the_source_is_found_by_its_route() -> None:
    assert load("mobile/firebase-auth") is SOURCE and SOURCE.full_name() == SOURCE_NAME


@pytest.mark.parametrize("name", ["user-deleted-cloudevent.json", "user-deleted-binary.json", "user-deleted-legacy.json"])
def test_a_deletion_in_every_shape_is_the_same_user_deleted(name: str) -> None:
    assert translate_sample(name) == ([USER_DELETED], Counter())


def test_message_id_is_pinned() -> None:
    assert translate_sample("user-deleted-cloudevent.json")[0][0]["messageId"] == "566a5678-f397-598c-a947-3234859e2cd6"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("user-created-cloudevent.json", "google.firebase.auth.user.v1.created"),
        ("user-created-legacy.json", "providers/firebase.auth/eventTypes/user.create"),
    ],
)
def test_the_conformance_creation_events_are_counted_not_sent(name: str, kind: str) -> None:
    assert translate_sample(name) == ([], Counter({kind: 1}))


def test_structured_event_sent_as_plain_json_is_recognised() -> None:
    assert translate_request(post(sample("user-deleted-cloudevent.json"))) == ([USER_DELETED], Counter())


def test_a_cloudevents_batch() -> None:
    batch = [json.loads(sample("user-created-cloudevent.json")), json.loads(sample("user-deleted-cloudevent.json"))]
    request = post(batch, {"content-type": "application/cloudevents-batch+json"})
    assert translate_request(request) == ([USER_DELETED], Counter({"google.firebase.auth.user.v1.created": 1}))


def test_legacy_event_with_a_context_object() -> None:
    legacy = json.loads(sample("user-deleted-legacy.json"))
    nested = {"data": legacy["data"], "context": {key: legacy[key] for key in ("eventId", "eventType", "resource", "timestamp")}}
    assert translate_request(post(nested)) == ([USER_DELETED], Counter())


def test_v2_deletion_reads_the_old_value() -> None:
    # google.events.firebase.auth.v2.AuthEventData: "value ... is not populated for delete events"
    event = json.loads(sample("user-deleted-cloudevent.json"))
    event["type"] = "google.firebase.auth.user.v2.deleted"
    event["data"] = {"oldValue": event["data"]}
    assert translate_request(post(event)) == ([USER_DELETED], Counter())


def test_a_v2_deletion_without_old_value_is_read_like_v1() -> None:
    event = json.loads(sample("user-deleted-cloudevent.json"))
    event["type"] = "google.firebase.auth.user.v2.deleted"
    assert translate_request(post(event)) == ([USER_DELETED], Counter())


def test_the_email_and_profile_are_not_copied() -> None:
    (body,), _ = translate_sample("user-deleted-cloudevent.json")
    assert "test@nowhere.com" not in json.dumps(body)


def test_a_deletion_without_time_has_no_timestamp() -> None:
    event = json.loads(sample("user-deleted-cloudevent.json"))
    del event["time"]
    assert "timestamp" not in translate_request(post(event))[0][0]


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"not json", None, "body is not JSON"),
        (b'"text"', None, "event 0 is a JSON str"),
        (b'{"data": {"uid": "x"}}', None, "neither a CloudEvent nor a legacy event"),
        (b'{"uid": "x"}', {"ce-specversion": "1.0"}, "without a ce-type header"),
    ],
)
def test_bodies_that_are_not_auth_events(body: bytes, headers: dict[str, str] | None, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        source().translate(post(body, headers))


def changed(name: str, **changes: Any) -> dict[str, Any]:
    event = json.loads(sample(name))
    event.update(changes)
    return event


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (changed("user-deleted-cloudevent.json", data={"email": "test@nowhere.com"}), r"event 0 \(google.firebase.auth.user.v1.deleted\): no uid"),
        (changed("user-deleted-cloudevent.json", data=None), "no uid"),
        (changed("user-deleted-cloudevent.json", id=""), "no event id"),
        (changed("user-deleted-legacy.json", eventId=None), "no event id"),
        (changed("user-deleted-cloudevent.json", time="tomorrow"), "time: timestamp is neither"),
    ],
)
def test_a_deletion_that_names_nobody_fails(event: dict[str, Any], reason: str) -> None:
    translation = source().translate(post(event))
    assert not translation.events and len(translation.failed) == 1 and re.search(reason, translation.failed[0])
    assert "@" not in translation.failed[0] and "tomorrow" not in translation.failed[0]


def test_one_bad_event_of_a_batch_does_not_hold_back_the_others() -> None:
    good = json.loads(sample("user-deleted-cloudevent.json"))
    bad = {**good, "id": "other", "data": {}}
    translation = source().translate(post([bad, good]))
    assert [e.userId for e in translation.events] == [good["data"]["uid"]]
    assert translation.failed == ["event 0 (google.firebase.auth.user.v1.deleted): no uid"]


def test_an_undocumented_type_is_unknown_and_kept() -> None:
    event = {**json.loads(sample("user-deleted-cloudevent.json")), "type": "google.firebase.auth.user.v1.disabled"}
    translation = source().translate(post(event))
    assert not translation.ignored and translation.unknown == Counter({"google.firebase.auth.user.v1.disabled": 1})


# ---- authentication ------------------------------------------------------------------------------


def test_the_bearer_token_is_accepted() -> None:
    source(FIREBASE_AUTH_TOKEN=TOKEN).authenticate(post(sample("user-deleted-cloudevent.json")))


@pytest.mark.parametrize(
    "authorization",
    [None, "", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer ", "Bearer test-firebase-token-77a2"],
)
def test_forged_or_missing_tokens_are_refused(authorization: str | None) -> None:
    headers = {"content-type": "application/json", **({"authorization": authorization} if authorization is not None else {})}
    request = WebhookRequest("POST", "/firebase-auth", sample("user-deleted-cloudevent.json"), headers)
    with pytest.raises(Unauthorized):
        source(FIREBASE_AUTH_TOKEN=TOKEN).authenticate(request)


def test_without_a_configured_token_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured, match="FIREBASE_AUTH_TOKEN is not configured"):
        source().authenticate(post(sample("user-deleted-cloudevent.json")))


def test_allow_unsigned_accepts_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        source(ALLOW_UNSIGNED="yes").authenticate(post(sample("user-deleted-cloudevent.json"), token=None))
    assert "SECURITY" in caplog.text and TOKEN not in caplog.text


def test_sign_produces_what_authenticate_accepts() -> None:
    signed = FirebaseAuth.sign(post(sample("user-deleted-binary.json"), meta_headers("user-deleted-binary.json"), token=None), TOKEN)
    source(FIREBASE_AUTH_TOKEN=TOKEN).authenticate(signed)
    assert "authorization" in FirebaseAuth.secret_headers
