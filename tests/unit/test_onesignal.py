"""OneSignal Event Streams: push received/clicked -> Report Delivery Event, unsubscribed -> Device Deleted.

Samples: events/samples/mobile/onesignal (this project's Liquid body template filled with
OneSignal's documented fields and examples; credited in its README.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized
from ciohooks.sources.mobile.onesignal import IGNORED, MAPPED
from tests.support.sources import Harness

harness = Harness("mobile/onesignal")
source, post, translate, one, sample = harness.source, harness.post, harness.translate, harness.one, harness.sample
TOKEN = "test-onesignal-stream-token-51c2"
FCM_TOKEN = "fLq8b4Z2RzSkXo0c3YtR9a:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


def doc(name: str) -> dict[str, Any]:
    return json.loads(sample(name))


def with_event(name: str, **event: Any) -> dict[str, Any]:
    body = doc(name)
    body["event"].update(event)
    return body


# ---- translation ---------------------------------------------------------------------------------


def test_a_confirmed_delivery_becomes_report_delivery_event_delivered() -> None:
    assert one(sample("push-received.json")) == {
        "type": "track",
        "event": "Report Delivery Event",
        "messageId": "f42dcd38-3b27-53fc-a296-143bbde0d2c5",
        "timestamp": "2024-02-21T23:45:15Z",
        "properties": {"deliveryId": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "delivered"},
    }


def test_a_tapped_push_is_opened() -> None:
    event = one(sample("push-clicked.json"))
    assert (event["event"], event["properties"]["metric"], event["timestamp"]) == ("Report Delivery Event", "opened", "2024-02-21T23:46:15Z")


def test_an_unsubscribed_push_subscription_deletes_its_device() -> None:
    assert one(sample("push-unsubscribed-android.json")) == {
        "type": "track",
        "event": "Device Deleted",
        "userId": "42",
        "messageId": "aa3c1f01-37b2-5117-a6f9-fed52234a7eb",
        "timestamp": "2024-02-22T23:45:15Z",
        "context": {"device": {"token": FCM_TOKEN, "type": "android"}},
    }


@pytest.mark.parametrize("device_type,expected", [("iOS", {"token": FCM_TOKEN, "type": "ios"}), ("ChromePush", {"token": FCM_TOKEN}), ("", {"token": FCM_TOKEN})])
def test_the_device_type_is_set_for_ios_and_android_only(device_type: str, expected: dict[str, str]) -> None:
    assert one(with_event("push-unsubscribed-android.json", subscription_device_type=device_type))["context"]["device"] == expected


def test_the_event_id_is_the_dedup_key() -> None:
    again = with_event("push-received.json", timestamp=1708559999)  # a retry of the same event
    assert one(again)["messageId"] == "f42dcd38-3b27-53fc-a296-143bbde0d2c5"
    other = with_event("push-received.json", id="00000000-1111-4222-8333-444444444444")
    assert one(other)["messageId"] != "f42dcd38-3b27-53fc-a296-143bbde0d2c5"


def test_user_id_keys_are_configurable() -> None:
    body = with_event("push-unsubscribed-android.json", external_id="", onesignal_id="9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b")
    assert one(body, ONESIGNAL_USER_ID_KEYS="external_id,onesignal_id")["userId"] == "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


@pytest.mark.parametrize("name,kind", [("push-sent.json", "message.push.sent"), ("email-opened.json", "message.email.opened")])
def test_documented_kinds_without_an_event_are_counted(name: str, kind: str) -> None:
    assert translate(sample(name)) == ([], {kind: 1})


@pytest.mark.parametrize("kind", ["message.push.failed", "message.iam.pagedisplayed", "message.sms.undelivered", "message.live_activity.clicked"])
def test_every_other_documented_channel_is_ignored(kind: str) -> None:
    assert translate(with_event("push-sent.json", kind=kind)) == ([], {kind: 1})


def test_a_batch_is_read_item_by_item() -> None:
    bodies, ignored = translate([doc("push-received.json"), doc("push-sent.json"), doc("push-unsubscribed-android.json")])
    assert [b["event"] for b in bodies] == ["Report Delivery Event", "Device Deleted"] and ignored == {"message.push.sent": 1}


def test_an_undocumented_kind_is_unknown_and_kept() -> None:
    translation = harness.translation(with_event("push-sent.json", kind="message.push.dismissed"))
    assert (translation.events, dict(translation.unknown)) == ([], {"message.push.dismissed": 1})


@pytest.mark.parametrize(
    "name,change,reason",
    [
        ("push-received-without-delivery-id.json", {}, "item 0 (message.push.received): no customerio.delivery_id (a OneSignal message id is not a Customer.io delivery)"),
        ("push-unsubscribed-android.json", {"customerio": {"delivery_id": "", "device_token": ""}}, "item 0 (message.push.unsubscribed): no customerio.device_token (a OneSignal subscription id is not a push token)"),
        ("push-unsubscribed-android.json", {"event": {"external_id": ""}}, "item 0 (message.push.unsubscribed): no user id (event.external_id)"),
        ("push-received.json", {"event": {"id": ""}}, "item 0 (message.push.received): no event.id"),
    ],
)
def test_an_item_that_needs_what_it_lacks_is_kept_with_the_reason(name: str, change: dict[str, Any], reason: str) -> None:
    body = doc(name)
    for key, value in change.items():
        body[key] = {**body[key], **value}
    translation = harness.translation([body, doc("push-clicked.json")])
    assert translation.failed == [reason]
    assert [event.name for event in translation.events] == ["Report Delivery Event"]  # the other item goes on


def test_a_bad_timestamp_is_kept_with_the_reason() -> None:
    translation = harness.translation(with_event("push-received.json", timestamp="yesterday"))
    assert len(translation.failed) == 1 and translation.failed[0].startswith("item 0 (message.push.received): event.timestamp")


@pytest.mark.parametrize(
    "body,reason",
    [
        (b"not json", None),
        ([], None),
        ({"kind": "message.push.received"}, "item 0 has no event object (see the body template in docs/sources/onesignal.md)"),
        ([{"event": {"kind": ""}}], "item 0 has no event.kind"),
        (["x"], "item 0 has no event object (see the body template in docs/sources/onesignal.md)"),
    ],
)
def test_bodies_that_are_not_the_template_are_refused(body: Any, reason: str | None) -> None:
    if body == []:  # an empty batch: nothing to do
        assert translate(body) == ([], {})
        return
    with pytest.raises(InvalidPayload) as refused:
        source().translate(post(body))
    if reason:
        assert str(refused.value) == reason


def test_mapped_and_ignored_cover_the_documented_push_kinds() -> None:
    push = {f"message.push.{action}" for action in ("sent", "received", "clicked", "failed", "unsubscribed")}
    assert push <= set(MAPPED) | set(IGNORED)


# ---- authentication ------------------------------------------------------------------------------


def test_the_bearer_token_is_accepted() -> None:
    source(ONESIGNAL_STREAM_TOKEN=TOKEN).authenticate(post(sample("push-received.json"), {"authorization": f"Bearer {TOKEN}"}))


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_forged_or_missing_tokens_are_refused(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        source(ONESIGNAL_STREAM_TOKEN=TOKEN).authenticate(post(sample("push-received.json"), {"authorization": header} if header else {}))


def test_without_a_configured_token_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured):
        source().authenticate(post(sample("push-received.json"), {"authorization": f"Bearer {TOKEN}"}))


def test_sign_produces_what_authenticate_accepts() -> None:
    signed = harness.source_class.sign(post(sample("push-received.json")), TOKEN)
    source(ONESIGNAL_STREAM_TOKEN=TOKEN).authenticate(signed)
    assert "authorization" in harness.source_class.secret_headers


def test_tokens_and_user_ids_never_reach_the_reasons(caplog: pytest.LogCaptureFixture) -> None:
    body = doc("push-unsubscribed-android.json")
    body["event"]["timestamp"] = "bad"
    with caplog.at_level(logging.DEBUG):
        translation = harness.translation(body)
    text = " ".join(translation.reasons()) + caplog.text
    assert FCM_TOKEN not in text and "42" not in text.replace("item 0", "")
