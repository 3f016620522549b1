"""Push metrics in Customer.io's Track API shapes, pass-through, loops, and the token.

Samples: events/samples/mobile/customerio-push (Customer.io's own spec examples; credited in its
README.md).
"""

from __future__ import annotations

import base64
import json
import logging
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ciohooks.config import Settings
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Unauthorized, load
from ciohooks.sources.mobile.customerio_push import SOURCE, CustomerioPush, presented_tokens
from tests.support.spec import assert_valid_event

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "mobile" / "customerio-push"
SOURCE_NAME = "mobile/customerio-push"
TOKEN = "test-cio-push-token-42c1"
DELIVERY = "RPILAgUBcRhIBqSfeiIwdIYJKxTY"
DOC_TIME = "2021-02-11T17:04:49Z"  # the spec's example timestamp 1613063089
DEVICE = "CIO-Delivery-Token from the notification"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def doc(name: str) -> dict[str, Any]:
    return json.loads(sample(name))


def source(**env: str) -> CustomerioPush:
    return CustomerioPush(Settings({f"CIOHOOKS_{k}": v for k, v in env.items()}))


def post(body: bytes | Any, authorization: str | None = f"Bearer {TOKEN}", **headers: str) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **headers, **({"authorization": authorization} if authorization else {})}
    return WebhookRequest("POST", "/customerio-push", raw, all_headers)


def translate(body: bytes | Any) -> tuple[list[dict[str, Any]], Counter[str]]:
    translation = source().translate(post(body))
    bodies = [event.to_cio() for event in translation.events]
    for cio in bodies:
        assert_valid_event(cio)
    return bodies, translation.ignored


def report(body: dict[str, Any], message_id: str, **properties: Any) -> dict[str, Any]:
    """The expected event; ``message_id`` is the UUIDv5 of the body's canonical content (a literal)."""
    out = {"type": "track", "event": "Report Delivery Event", "messageId": message_id}
    if "timestamp" in body:
        out["timestamp"] = DOC_TIME
    return {**out, "properties": {"deliveryId": DELIVERY, **properties}}


# ---- the Track API shapes ------------------------------------------------------------------------


def test_the_source_is_found_by_its_route() -> None:
    assert load("mobile/customerio-push") is SOURCE and SOURCE.full_name() == SOURCE_NAME


def test_push_events_body_becomes_report_delivery_event() -> None:
    body = doc("push-events-opened.json")
    assert translate(body) == ([report(body, "4d9da8a6-71c8-583f-a480-4e3d67e7f2bd", metric="opened", recipient=DEVICE)], Counter())


@pytest.mark.parametrize("event", ["opened", "converted", "delivered"])
def test_every_push_events_value_is_a_metric(event: str) -> None:
    body = {**doc("push-events-opened.json"), "event": event}
    assert translate(body)[0][0]["properties"]["metric"] == event


def test_metrics_body_becomes_report_delivery_event() -> None:
    body = doc("metrics-delivered.json")
    assert translate(body) == ([report(body, "2b28c2f2-f63f-5a46-a12d-f558555df918", metric="delivered")], Counter())


def test_message_id_is_pinned_and_follows_the_content() -> None:
    body = doc("metrics-delivered.json")
    assert translate(body)[0][0]["messageId"] == "2b28c2f2-f63f-5a46-a12d-f558555df918"
    assert translate({**body, "timestamp": 1613063090})[0][0]["messageId"] != "2b28c2f2-f63f-5a46-a12d-f558555df918"


def test_metrics_optional_fields_are_passed_on() -> None:
    body = {"delivery_id": DELIVERY, "metric": "clicked", "recipient": "person@example.com", "href": "https://example.com/x", "reason": "n/a"}
    assert translate(body)[0][0]["properties"] == {
        "deliveryId": DELIVERY, "metric": "clicked", "recipient": "person@example.com", "href": "https://example.com/x", "reason": "n/a",
    }  # fmt: skip
    assert "timestamp" not in translate(body)[0][0]


def test_sms_recipient_documented_as_an_integer_is_sent_as_text() -> None:
    assert translate({"delivery_id": DELIVERY, "metric": "delivered", "recipient": 15551234567})[0][0]["properties"]["recipient"] == "15551234567"


@pytest.mark.parametrize("metric", ["bounced", "deferred", "dropped", "spammed"])
def test_metrics_the_semantic_event_cannot_carry_are_counted(metric: str) -> None:
    assert translate({"delivery_id": DELIVERY, "metric": metric}) == ([], Counter({f"metric:{metric}": 1}))


def test_the_documented_code_sample_is_counted() -> None:
    assert translate(sample("metrics-bounced.json")) == ([], Counter({"metric:bounced": 1}))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"[]", "not an object"),
        ({"delivery_id": DELIVERY}, "none of /push/events"),
    ],
)
def test_bodies_that_are_none_of_the_shapes(body: Any, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        source().translate(post(body))


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"delivery_id": DELIVERY, "metric": "read"}, "metric:read"),
        ({"delivery_id": DELIVERY, "event": "clicked"}, "event:clicked"),
    ],
)
def test_a_metric_the_shape_does_not_document_is_unknown_and_kept(body: Any, kind: str) -> None:
    translation = source().translate(post(body))
    assert not translation.events and not translation.ignored and translation.unknown == Counter({kind: 1})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"metric": "opened"}, "metric:opened: no delivery id"),
        ({"delivery_id": "", "event": "opened"}, "event:opened: no delivery id"),
        ({"delivery_id": 42, "metric": "opened"}, "metric:opened: no delivery id"),
        ({"delivery_id": DELIVERY, "metric": "opened", "timestamp": "later"}, "metric:opened: timestamp: timestamp is neither"),
        ({"delivery_id": DELIVERY, "metric": "opened", "recipient": ["a"]}, "metric:opened: invalid recipient"),
    ],
)
def test_an_item_that_cannot_be_translated_is_failed_with_a_safe_reason(body: Any, reason: str) -> None:
    translation = source().translate(post(body))
    assert not translation.events and len(translation.failed) == 1 and translation.failed[0].startswith(reason)
    assert "later" not in translation.failed[0]


# ---- pass-through --------------------------------------------------------------------------------


def test_semantic_report_delivery_event_passes_through() -> None:
    body = doc("report-delivery-event.json")
    (out,), ignored = translate(body)
    assert ignored == Counter()
    # the same fields and values; the timestamp is the same instant, written as the model writes it
    assert {k: v for k, v in out.items() if k not in ("messageId", "timestamp")} == {k: v for k, v in body.items() if k != "timestamp"}
    assert datetime.fromisoformat(out["timestamp"]) == datetime.fromisoformat(body["timestamp"])
    assert out["messageId"] == "2247a99f-68a7-5c41-bf07-76a9a81d60f7"  # UUIDv5 of the body's canonical content


def test_a_pass_through_message_id_is_kept() -> None:
    body = {**doc("report-delivery-event.json"), "messageId": "m-1", "anonymousId": "a-1", "context": {"ip": "1.2.3.4"}}
    del body["timestamp"]
    assert translate(body)[0][0] == body


@pytest.mark.parametrize(
    "body",
    [
        {"type": "track", "event": "User Deleted", "userId": "u-1"},
        {"type": "identify", "userId": "u-1"},
        {"type": "track", "event": "Report Delivery Event"},
    ],
)
def test_other_semantic_calls_are_not_reports(body: dict[str, Any]) -> None:
    translation = source().translate(post(body))
    assert not translation.events and not translation.ignored and translation.incomplete


@pytest.mark.parametrize(
    "change",
    [
        {"properties": {"deliveryId": "42", "metric": "bounced"}},
        {"userId": "u-1", "anonymousId": "a-1"},
        {"unknownField": 1},
    ],
)
def test_invalid_semantic_bodies_are_refused_by_the_model(change: dict[str, Any]) -> None:
    translation = source().translate(post({**doc("report-delivery-event.json"), **change}))
    assert not translation.events and len(translation.failed) == 1 and translation.failed[0].startswith("Report Delivery Event: ")


# ---- shapes users forward (issue 13) -------------------------------------------------------------


def test_the_ios_sdks_own_report_delivery_event_body_passes_through() -> None:
    """customerio-ios ``RichPushHttpClient.trackMetric`` posts, from the notification service
    extension, ``{"anonymousId": <delivery id>, "properties": {"recipient", "metric", "deliveryId"},
    "event": "Report Delivery Event"}``: no ``type``. It used to be refused ("event is not opened,
    converted or delivered")."""
    body = doc("report-delivery-event-ios-sdk.json")
    (out,), ignored = translate(body)
    assert not ignored and out == {
        "type": "track",
        "event": "Report Delivery Event",
        "anonymousId": DELIVERY,
        "messageId": "02e83cd9-9904-5c33-ab99-f6bf9f89a388",
        "properties": {"deliveryId": DELIVERY, "metric": "delivered", "recipient": DEVICE},
    }


def test_the_push_payload_an_ios_app_receives_becomes_delivered() -> None:
    """The payload of Customer.io's "Test your push implementation" page (iOS, APNs) with the
    CIO-Delivery-ID / CIO-Delivery-Token keys Customer.io adds to every push. It used to be refused."""
    (out,), ignored = translate(doc("push-payload-ios.json"))
    assert not ignored and out == {
        "type": "track",
        "event": "Report Delivery Event",
        "messageId": "7b9ce513-6324-5c8b-b045-f032aa02396e",
        "properties": {"deliveryId": DELIVERY, "metric": "delivered", "recipient": DEVICE},
    }


def test_the_android_data_message_form_and_a_named_metric() -> None:
    ios = doc("push-payload-ios.json")
    android = {"data": {"CIO-Delivery-ID": DELIVERY, "CIO-Delivery-Token": DEVICE, "title": "Hi", "body": "There"}}
    assert translate(android)[0] == translate(ios)[0]  # one report, one messageId, whatever the wrapper
    opened = translate({**ios, "metric": "opened"})[0][0]
    assert opened["properties"]["metric"] == "opened" and opened["messageId"] != translate(ios)[0][0]["messageId"]
    assert source().translate(post({**ios, "metric": "seen"})).unknown == Counter({"push payload:seen": 1})


# ---- loops ---------------------------------------------------------------------------------------


def test_a_reporting_webhook_is_acknowledged_before_authentication(caplog: pytest.LogCaptureFixture) -> None:
    """Customer.io retries any non-2xx for seven days and holds back later webhooks: answer 200."""
    ingest = Ingest("mobile", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_CUSTOMERIO_PUSH_TOKEN": TOKEN}))
    request = post(sample("reporting-webhook-email-sent.json"), None, **{"x-cio-timestamp": "1613063089", "x-cio-signature": "ab" * 32})
    with caplog.at_level(logging.WARNING):
        outcome = ingest.handle("customerio-push", request)
    assert outcome.status == 200 and outcome.result == "replied"
    assert ingest.delivery_queue.receive() == [] and ingest.dead_letter_queue.receive() == []
    assert "loop guard" in caplog.text and "test@example.com" not in caplog.text


def test_a_reporting_webhook_body_without_its_headers_is_counted_as_a_loop() -> None:
    assert translate(sample("reporting-webhook-email-sent.json")) == ([], Counter({"loop:reporting_webhook": 1}))


def test_without_the_loop_headers_authentication_still_applies() -> None:
    with pytest.raises(Unauthorized):
        source(CUSTOMERIO_PUSH_TOKEN=TOKEN).authenticate(post(sample("reporting-webhook-email-sent.json"), None))


# ---- authentication ------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}", f"bearer {TOKEN}", basic("site-id-123", TOKEN), basic(TOKEN, "")],
    ids=["bearer", "bearer lower case", "basic password (Track API site_id:api_key)", "basic user (Pipelines style)"],
)
def test_accepted_credentials(authorization: str) -> None:
    source(CUSTOMERIO_PUSH_TOKEN=TOKEN).authenticate(post(doc("metrics-delivered.json"), authorization))


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}0", TOKEN, f"Token {TOKEN}", basic(TOKEN, "other"), basic("site", "other"), "Basic !!!", "Basic " + base64.b64encode(b"\xff:\xfe").decode()],
)
def test_refused_credentials(authorization: str | None) -> None:
    with pytest.raises(Unauthorized):
        source(CUSTOMERIO_PUSH_TOKEN=TOKEN).authenticate(post(doc("metrics-delivered.json"), authorization))


def test_presented_tokens() -> None:
    assert presented_tokens(None) == [] and presented_tokens("Bearer") == []
    assert presented_tokens(basic("a", "b")) == ["b"] and presented_tokens(basic("a", "")) == ["a"]


def test_without_a_configured_token_every_request_is_refused() -> None:
    with pytest.raises(NotConfigured, match="CUSTOMERIO_PUSH_TOKEN is not configured"):
        source().authenticate(post(doc("metrics-delivered.json")))


def test_allow_unsigned_accepts_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        source(ALLOW_UNSIGNED="on").authenticate(post(doc("metrics-delivered.json"), None))
    assert "SECURITY" in caplog.text


def test_sign_produces_what_authenticate_accepts() -> None:
    source(CUSTOMERIO_PUSH_TOKEN=TOKEN).authenticate(CustomerioPush.sign(post(doc("metrics-delivered.json"), None), TOKEN))


def test_the_device_token_and_credentials_never_reach_the_dlq_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    ingest = Ingest("mobile", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_CUSTOMERIO_PUSH_TOKEN": TOKEN}))
    device = "f" * 64  # an APNs-like token
    with caplog.at_level(logging.DEBUG):
        outcome = ingest.handle("customerio-push", post({"delivery_id": DELIVERY, "device_id": device, "timestamp": "x"}))
    assert outcome.result == "dead_lettered"
    failed = source().translate(post({"delivery_id": DELIVERY, "event": "opened", "device_id": device, "timestamp": "x"})).failed
    assert failed and device not in failed[0]
    (message,) = ingest.dead_letter_queue.receive()
    reason = json.loads(message.body)["failure"]["error"]
    assert device not in reason and TOKEN not in message.body and device not in caplog.text and TOKEN not in caplog.text
