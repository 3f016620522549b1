"""Auth0 log streams: the published/captured records, the three content formats, the static token.

Samples: events/samples/mobile/auth0 (credited in its README.md).
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
from ciohooks.envelope import Envelope
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.mobile.auth0 import SOURCE, Auth0, parse_records
from tests.support.spec import assert_valid_event

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "mobile" / "auth0"
SOURCE_NAME = "mobile/auth0"
TOKEN = "Bearer test-auth0-token-1f2e"
SDU_LOG_ID = "90020211104003005162223341133851203963552710102024716399"
SDU_USER = "auth0|618223a4e3f49e006948565c"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def records(name: str) -> list[dict[str, Any]]:
    return json.loads(sample(name))


def source(**env: str) -> Auth0:
    return Auth0(Settings({f"CIOHOOKS_{k}": v for k, v in env.items()}))


def post(body: bytes | list[Any] | dict[str, Any], authorization: str | None = TOKEN) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **({"authorization": authorization} if authorization else {})}
    return WebhookRequest(method="POST", path="/auth0", body=raw, headers=headers)


def translate(body: bytes | list[Any] | dict[str, Any], **env: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    translation = source(**env).translate(post(body))
    bodies = [event.to_cio() for event in translation.events]
    for cio in bodies:
        assert_valid_event(cio)
    return bodies, translation.ignored


def sdu(**changes: Any) -> list[dict[str, Any]]:
    batch = records("user-deleted.json")
    batch[0]["data"].update(changes)
    return batch


USER_DELETED = {
    "type": "track",
    "event": "User Deleted",
    "userId": SDU_USER,
    "messageId": "bf0e3422-be85-5ba4-a187-357783f192dd",  # UUIDv5 of the log id
    "timestamp": "2021-11-04T00:30:01.162000Z",
}


# ---- translation ---------------------------------------------------------------------------------


def test_the_source_is_found_by_its_route() -> None:
    assert load("mobile/auth0") is SOURCE and load("auth0") is SOURCE


def test_successful_user_deletion_becomes_user_deleted() -> None:
    assert translate(sample("user-deleted.json")) == ([USER_DELETED], Counter())


def test_message_id_is_pinned() -> None:
    # A literal: changing ids.NAMESPACE or the derivation would break de-duplication downstream.
    assert translate(sample("user-deleted.json"))[0][0]["messageId"] == "bf0e3422-be85-5ba4-a187-357783f192dd"


def test_captured_signup_is_counted_not_sent() -> None:
    assert translate(sample("signup-success.json")) == ([], Counter({"ss": 1}))


def test_captured_json_lines_body() -> None:
    assert translate(sample("login-success-lines.json")) == ([], Counter({"s": 2}))


def test_the_three_content_formats_give_the_same_events() -> None:
    record = records("user-deleted.json")[0]
    signup = records("signup-success.json")[0]
    as_array = json.dumps([signup, record]).encode()
    as_lines = (json.dumps(signup) + "\n" + json.dumps(record) + "\n").encode()
    as_object = json.dumps(record).encode()
    assert translate(as_array) == translate(as_lines) == ([USER_DELETED], Counter({"ss": 1}))
    assert translate(as_object) == ([USER_DELETED], Counter())


def test_failed_deletion_and_other_types_are_counted_by_type() -> None:
    failed = sdu(type="fdu", description="Failed to delete user")
    batch = failed + records("signup-success.json") + records("user-deleted.json")
    bodies, ignored = translate(batch)
    assert bodies == [USER_DELETED]
    assert ignored == Counter({"fdu": 1, "ss": 1})


def test_log_id_inside_data_is_enough() -> None:
    batch = records("user-deleted.json")
    del batch[0]["log_id"]
    assert translate(batch)[0] == [USER_DELETED]


def test_user_id_keys_are_configurable() -> None:
    # e.g. to attribute by the username when Customer.io identifies people by it
    assert translate(sdu(), AUTH0_USER_ID_KEYS="user_name,user_id")[0][0]["userId"] == "dev@test.com"
    assert translate(sdu(), AUTH0_USER_ID_KEYS="missing,user_id")[0][0]["userId"] == SDU_USER


def test_a_deletion_without_a_date_has_no_timestamp() -> None:
    batch = records("user-deleted.json")
    del batch[0]["data"]["date"]
    assert "timestamp" not in translate(batch)[0][0]


def test_empty_bodies() -> None:
    assert translate(b"[]") == ([], Counter())
    assert translate(b"\n") == ([], Counter())


# ---- what cannot be translated ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json}\n{}", "line 1 is not JSON"),
        (b'["sdu"]', r"record 0 is not an Auth0 log stream record"),
        (b'[{"log_id": "1", "type": "sdu"}]', r"record 0 is not an Auth0 log stream record"),
        (b'[{"log_id": "1", "data": {"date": "2021-11-04T00:30:01Z"}}]', "record 0 has no log type"),
    ],
)
def test_a_body_that_is_not_a_log_stream_post(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        parse_records(body)


@pytest.mark.parametrize(
    ("batch", "reason"),
    [
        (sdu(user_id=""), r"record 1 \(sdu\): no user id in user_id"),
        (sdu(user_id=None), r"record 1 \(sdu\): no user id in user_id"),
        (sdu(date="yesterday"), r"record 1 \(sdu\): date: timestamp is neither"),
        ([{"data": {**records("user-deleted.json")[0]["data"], "log_id": ""}}], r"record 1 \(sdu\): no log_id"),
    ],
)
def test_a_deletion_that_cannot_be_attributed_is_failed_and_the_batch_goes_on(batch: list[dict[str, Any]], reason: str) -> None:
    translation = source().translate(post(records("signup-success.json") + batch + records("user-deleted.json")))
    assert [event.to_cio() for event in translation.events] == [USER_DELETED]  # record 2 still sent
    assert len(translation.failed) == 1 and re.match(reason, translation.failed[0])
    assert "@" not in translation.failed[0] and "yesterday" not in translation.failed[0]


def test_an_undocumented_log_type_is_unknown_and_kept() -> None:
    record = {"log_id": "x1", "data": {**records("signup-success.json")[0]["data"], "type": "brand_new_type"}}
    translation = source().translate(post([record]))
    assert not translation.ignored and translation.unknown == Counter({"brand_new_type": 1})


# ---- authentication ------------------------------------------------------------------------------


def test_the_configured_authorization_header_is_accepted() -> None:
    source(AUTH0_AUTHORIZATION=TOKEN).authenticate(post(sample("user-deleted.json")))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer test-auth0-token-1f2f",  # forged: one character off
        "test-auth0-token-1f2e",  # the token without the scheme Auth0 was told to send
        "Bearer test-auth0-token-1f2e ",
        "bearer test-auth0-token-1f2e",
        "Basic dGVzdDp0ZXN0",
    ],
)
def test_anything_but_the_exact_header_is_refused(authorization: str) -> None:
    with pytest.raises(Unauthorized, match="does not match"):
        source(AUTH0_AUTHORIZATION=TOKEN).authenticate(post(sample("user-deleted.json"), authorization))


def test_a_request_without_the_header_is_refused() -> None:
    with pytest.raises(Unauthorized, match="missing or malformed Authorization header"):
        source(AUTH0_AUTHORIZATION=TOKEN).authenticate(post(sample("user-deleted.json"), None))


def test_without_a_configured_token_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured, match="AUTH0_AUTHORIZATION is not configured"):
        source().authenticate(post(sample("user-deleted.json")))


def test_allow_unsigned_accepts_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        source(ALLOW_UNSIGNED="true").authenticate(post(sample("user-deleted.json"), None))
    assert "SECURITY" in caplog.text and "AUTH0_AUTHORIZATION" in caplog.text


def test_sign_produces_what_authenticate_accepts() -> None:
    unsigned = post(sample("user-deleted.json"), None)
    source(AUTH0_AUTHORIZATION=TOKEN).authenticate(Auth0.sign(unsigned, TOKEN))


def test_the_token_is_never_stored_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An authentic but untranslatable request goes to the DLQ without its Authorization header."""
    ingest = Ingest("mobile", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_AUTH0_AUTHORIZATION": TOKEN}))
    with caplog.at_level(logging.DEBUG):
        outcome = ingest.handle("auth0", post([{"log_id": "x", "data": {"user_id": ""}}]))
        refused = ingest.handle("auth0", post(sample("user-deleted.json"), "Bearer wrong"))
    assert outcome.status == 200 and outcome.result == "dead_lettered" and refused.status == 401
    (message,) = ingest.dead_letter_queue.receive()
    envelope = Envelope.from_json(message.body)
    assert "authorization" not in envelope.request["headers"]
    assert "test-auth0-token" not in message.body and "test-auth0-token" not in caplog.text
    assert "wrong" not in caplog.text
