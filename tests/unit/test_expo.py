"""Expo push tickets and receipts forwarded with their tokens: DeviceNotRegistered -> Device Deleted.

Samples: events/samples/mobile/expo (Expo's documented ticket/receipt objects in this project's
forwarding body; credited in its README.md).
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
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.mobile.expo import SOURCE, Expo, parse_body
from tests.support.spec import assert_valid_event

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "mobile" / "expo"
SOURCE_NAME = "mobile/expo"
TOKEN = "test-expo-forwarder-token-3b9a"
PUSH_TOKEN = "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]"
# Expo's documented error ticket (and, per its docs, receipts have the same shape).
NOT_REGISTERED = {
    "status": "error",
    "message": f'"{PUSH_TOKEN}" is not a registered push notification recipient',
    "details": {"error": "DeviceNotRegistered"},
}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def doc(name: str) -> dict[str, Any]:
    return json.loads(sample(name))


def source(**env: str) -> Expo:
    return Expo(Settings({f"CIOHOOKS_{k}": v for k, v in env.items()}))


def post(body: bytes | Any, token: str | None = TOKEN) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    return WebhookRequest("POST", "/expo", raw, headers)


def translate(body: bytes | Any, **env: str) -> tuple[list[dict[str, Any]], Counter[str]]:
    translation = source(**env).translate(post(body))
    bodies = [event.to_cio() for event in translation.events]
    for cio in bodies:
        assert_valid_event(cio)
    return bodies, translation.ignored


def receipt_item(**fields: Any) -> dict[str, Any]:
    return {"token": PUSH_TOKEN, "userId": "42", "receiptId": "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", "receipt": NOT_REGISTERED, **fields}


# ---- translation ---------------------------------------------------------------------------------


def test_the_source_is_found_by_its_route() -> None:
    assert load("mobile/expo") is SOURCE


def test_device_not_registered_ticket_becomes_device_deleted() -> None:
    body = doc("ticket-device-not-registered.json")
    assert translate(body) == (
        [
            {
                "type": "track",
                "event": "Device Deleted",
                "userId": "42",
                "messageId": "a6e84cec-2d18-5ffa-8463-433de52a7f64",  # UUIDv5 of the forwarded item's canonical content
                "context": {"device": {"token": PUSH_TOKEN, "type": "ios"}},
            }
        ],
        Counter({"ticket:ok": 1}),
    )


def test_message_id_is_pinned() -> None:
    assert translate(doc("ticket-device-not-registered.json"))[0][0]["messageId"] == "a6e84cec-2d18-5ffa-8463-433de52a7f64"


def test_ok_receipts_are_counted() -> None:
    assert translate(sample("receipts-ok.json")) == ([], Counter({"receipt:ok": 2}))


def test_device_not_registered_receipt_with_timestamp_and_android_platform() -> None:
    item = receipt_item(platform="android", timestamp=1716883200)
    (event,), ignored = translate({"receipts": [item]})
    assert event["context"] == {"device": {"token": PUSH_TOKEN, "type": "android"}}
    assert event["timestamp"] == "2024-05-28T08:00:00Z" and ignored == Counter()
    assert event["messageId"] == "c2e1a717-9fbe-5a29-8433-11e78ffdbc71"  # UUIDv5 of the forwarded item's canonical content


@pytest.mark.parametrize("platform", [None, "web", "IOS", 1])
def test_unknown_platforms_leave_the_device_type_out(platform: Any) -> None:
    item = receipt_item(platform=platform) if platform is not None else receipt_item()
    assert translate({"receipts": [item]})[0][0]["context"] == {"device": {"token": PUSH_TOKEN}}


# Every other code expo-server-sdk-node types for an error ticket or receipt (src/ExpoClient.ts:
# ExpoPushErrorTicket = ExpoPushErrorReceipt), and MismatchSenderId from Expo's push docs.
OTHER_ERRORS = ["MessageTooBig", "MessageRateExceeded", "MismatchSenderId", "InvalidCredentials", "DeveloperError", "ExpoError", "ProviderError"]


@pytest.mark.parametrize("error", OTHER_ERRORS)
def test_other_receipt_errors_are_counted_by_error(error: str) -> None:
    item = receipt_item(receipt={"status": "error", "message": "...", "details": {"error": error}})
    assert translate({"receipts": [item]}) == ([], Counter({f"receipt:{error}": 1}))


@pytest.mark.parametrize("error", OTHER_ERRORS)
def test_error_tickets_carry_the_same_codes_and_are_counted_not_kept(error: str) -> None:
    item = receipt_item(ticket={"status": "error", "message": "...", "details": {"error": error}})
    assert translate({"tickets": [item]}) == ([], Counter({f"ticket:{error}": 1}))


def test_an_error_without_details_is_counted() -> None:
    assert translate({"tickets": [receipt_item(ticket={"status": "error", "message": "..."})]}) == ([], Counter({"ticket:error": 1}))


def test_tickets_and_receipts_in_one_body() -> None:
    body = {**doc("ticket-device-not-registered.json"), **doc("receipts-ok.json")}
    bodies, ignored = translate(body)
    assert [b["event"] for b in bodies] == ["Device Deleted"] and ignored == Counter({"ticket:ok": 1, "receipt:ok": 2})


def test_user_id_keys_are_configurable() -> None:
    item = receipt_item(userId=None, user_id="u-7")
    assert translate({"receipts": [item]}, EXPO_USER_ID_KEYS="userId,user_id")[0][0]["userId"] == "u-7"


def test_an_empty_forward() -> None:
    assert translate({"tickets": [], "receipts": []}) == ([], Counter())


# ---- what cannot be translated ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"nope", "body is not JSON"),
        ([], "body is neither"),
        ({"data": "x"}, "data is a JSON str"),
        ({"tickets": {}}, "tickets is not a list"),
        ({"tickets": ["ok"]}, r"tickets\[0\] has no Expo ticket"),
        ({"receipts": [{"token": PUSH_TOKEN, "ticket": NOT_REGISTERED}]}, r"receipts\[0\] has no Expo receipt"),
        ({"receipts": [receipt_item(receipt={"status": "pending"})]}, "status of ok or error"),
    ],
)
def test_bodies_that_are_not_forwards(body: Any, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        parse_body(body if isinstance(body, bytes) else json.dumps(body).encode())


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (receipt_item(userId=None), r"receipts\[0\]: DeviceNotRegistered without a user id"),
        (receipt_item(userId=""), "without a user id"),
        (receipt_item(token=None), "without the token"),
        (receipt_item(token=""), "without the token"),
        (receipt_item(timestamp="whenever"), "timestamp: timestamp is neither"),
    ],
)
def test_a_device_not_registered_that_cannot_be_attributed_fails(item: dict[str, Any], reason: str) -> None:
    translation = source().translate(post({"receipts": [item, receipt_item(receipt={"status": "ok"})]}))
    assert not translation.events and len(translation.failed) == 1 and re.search(reason, translation.failed[0])
    assert translation.ignored == Counter({"receipt:ok": 1})  # the other item of the batch went on
    assert "ExponentPushToken" not in translation.failed[0] and "whenever" not in translation.failed[0]


# ---- Expo's own responses, forwarded as returned (issue 13) ---------------------------------------
# Bodies from Expo's docs (sending-notifications.mdx, credited in the samples README).


def test_expos_send_response_with_an_error_ticket() -> None:
    """The documented ticket error response: a DeviceNotRegistered ticket (its message quotes the
    token) and an ok one. It used to be refused (not the {"tickets", "receipts"} wrapper); with a
    userId added beside ``data`` by the forwarder, it becomes Device Deleted."""
    response = doc("send-response-device-not-registered.json")
    bare = source().translate(post(response))
    assert not bare.events and bare.ignored == Counter({"ticket:ok": 1})
    assert bare.failed == ["data[0]: DeviceNotRegistered without a user id (userId)"]
    assert translate({**response, "userId": "42"}) == ([{
        "type": "track",
        "event": "Device Deleted",
        "userId": "42",
        "messageId": "8aae2519-f7ae-5367-b6f3-3f1a5470a5db",
        "context": {"device": {"token": PUSH_TOKEN}},
    }], Counter({"ticket:ok": 1}))


def test_expos_receipts_response_is_counted() -> None:
    response = doc("receipts-response-ok.json")
    translation = source().translate(post(response))
    assert not translation.events and not translation.incomplete and translation.ignored == Counter({"receipt:ok": 2})


def test_a_receipt_error_response_names_its_token_in_details() -> None:
    receipt = {"status": "error", "message": "...", "details": {"error": "DeviceNotRegistered", "expoPushToken": PUSH_TOKEN}}
    (event,), _ = translate({"data": {"XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX": receipt}, "userId": "42"})
    assert event["context"] == {"device": {"token": PUSH_TOKEN}} and event["userId"] == "42"


def test_a_single_ticket_request_level_errors_and_unknown_codes() -> None:
    assert source().translate(post({"data": {"status": "ok", "id": "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"}})).ignored == Counter({"ticket:ok": 1})
    failed = source().translate(post({"errors": [{"code": "PUSH_TOO_MANY_NOTIFICATIONS", "message": "..."}]}))
    assert failed.ignored == Counter({"errors:PUSH_TOO_MANY_NOTIFICATIONS": 1}) and not failed.incomplete
    odd = source().translate(post({"data": [{"status": "error", "message": "...", "details": {"error": "ProviderOutage"}}]}))
    assert odd.unknown == Counter({"ticket:ProviderOutage": 1})


# ---- authentication ------------------------------------------------------------------------------


def test_the_bearer_token_is_accepted() -> None:
    source(EXPO_FORWARDER_TOKEN=TOKEN).authenticate(post(sample("receipts-ok.json")))


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + " extra", TOKEN[:-1]])
def test_forged_or_missing_tokens_are_refused(token: str | None) -> None:
    with pytest.raises(Unauthorized):
        source(EXPO_FORWARDER_TOKEN=TOKEN).authenticate(post(sample("receipts-ok.json"), token))


def test_without_a_configured_token_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured, match="EXPO_FORWARDER_TOKEN is not configured"):
        source().authenticate(post(sample("receipts-ok.json")))


def test_allow_unsigned_accepts_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        source(ALLOW_UNSIGNED="1").authenticate(post(sample("receipts-ok.json"), None))
    assert "SECURITY" in caplog.text


def test_sign_produces_what_authenticate_accepts() -> None:
    source(EXPO_FORWARDER_TOKEN=TOKEN).authenticate(Expo.sign(post(sample("receipts-ok.json"), None), TOKEN))


def test_tokens_never_reach_logs_or_the_dlq_reason(caplog: pytest.LogCaptureFixture) -> None:
    ingest = Ingest("mobile", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_EXPO_FORWARDER_TOKEN": TOKEN}))
    with caplog.at_level(logging.DEBUG):
        outcome = ingest.handle("expo", post({"receipts": [receipt_item(receipt={"status": "pending"})]}))
    assert outcome.result == "dead_lettered"
    (message,) = ingest.dead_letter_queue.receive()
    envelope = json.loads(message.body)
    assert "ExponentPushToken" not in envelope["failure"]["error"] and "authorization" not in envelope["request"]["headers"]
    assert "ExponentPushToken" not in caplog.text and TOKEN not in caplog.text
