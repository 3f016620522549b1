"""Ingest decisions on SendGrid's own samples: what is answered, what is queued, what is kept."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from ciohooks.config import Settings
from ciohooks.envelope import Envelope
from ciohooks.handlers import ingest_resolver
from ciohooks.ingest import Ingest
from ciohooks.queue import MemoryQueue, MessageTooLarge, QueueUnavailable
from ciohooks.request import WebhookRequest
from tests.support.signers import new_sendgrid_keypair, sign_sendgrid

SAMPLES = Path(__file__).parents[2] / "events" / "samples" / "email" / "sendgrid"
BATCH = (SAMPLES / "batch.json").read_bytes()  # SendGrid's documented samples, see README there
PRIVATE_KEY, PUBLIC_KEY = new_sendgrid_keypair()


class DownQueue:
    def put(self, envelope):
        raise QueueUnavailable("SQS did not take the message (EndpointConnectionError)")


def make_ingest(delivery=None, dead=None, **env) -> Ingest:
    settings = Settings({"CIOHOOKS_SENDGRID_VERIFICATION_KEY": PUBLIC_KEY, **{f"CIOHOOKS_{k}": v for k, v in env.items()}})
    return Ingest("email", delivery if delivery is not None else MemoryQueue(), dead if dead is not None else MemoryQueue(), settings)


def signed(body: bytes = BATCH, method: str = "POST", **headers) -> WebhookRequest:
    return WebhookRequest(method, "/sendgrid", body, {"content-type": "application/json", **sign_sendgrid(PRIVATE_KEY, body), **headers})


def drain(queue: MemoryQueue) -> list[Envelope]:
    return [Envelope.from_json(m.body) for m in queue.receive(max_messages=100)]


def test_signed_batch_is_queued_as_one_message_of_events():
    ingest = make_ingest()
    outcome = ingest.handle("sendgrid", signed())
    assert (outcome.status, outcome.result, outcome.events, outcome.ignored) == (200, "queued", 7, 4)
    (envelope,) = drain(ingest.delivery_queue)
    assert envelope.kind == "events" and envelope.source == "email/sendgrid"
    assert [e["event"] for e in envelope.events] == [
        "Email Delivered", "Email Bounced", "Email Opened", "Email Link Clicked",
        "Email Marked as Spam", "Email Unsubscribed", "Email Unsubscribed",
    ]
    assert drain(ingest.dead_letter_queue) == []


def test_forged_signature_is_refused_and_nothing_is_queued(caplog):
    ingest = make_ingest()
    forged = signed()
    tampered = WebhookRequest("POST", "/sendgrid", BATCH.replace(b"example@test.com", b"mallory@evil.test"), forged.headers)
    with caplog.at_level(logging.INFO):
        outcome = ingest.handle("sendgrid", tampered)
    assert outcome.status == 401
    assert drain(ingest.delivery_queue) == [] and drain(ingest.dead_letter_queue) == []
    assert "mallory" not in caplog.text and "example@test.com" not in caplog.text


def test_without_a_key_the_endpoint_fails_closed():
    ingest = Ingest("email", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_SOURCES": "sendgrid"}))  # listed: fail closed
    assert ingest.handle("sendgrid", signed()).status == 503


def test_unknown_source_wrong_method_and_oversized_body():
    ingest = make_ingest(MAX_BODY_BYTES="100")
    assert ingest.handle("nope", signed()).status == 404
    assert ingest.handle("sendgrid", signed(method="GET")).status == 405
    assert ingest.handle("sendgrid", signed()).status == 413


def test_disabled_source_is_not_routed():
    assert make_ingest(SOURCES="mailgun").handle("sendgrid", signed()).status == 404


def test_authentic_but_untranslatable_request_is_kept_whole_in_the_dlq():
    body = b'[{"email":"jane@example.com","timestamp":1513299569}]'  # no event type: the whole batch fails
    ingest = make_ingest()
    request = signed(body, authorization="Basic c2VjcmV0")
    outcome = ingest.handle("sendgrid", request)
    assert (outcome.status, outcome.result) == (200, "dead_lettered")
    assert drain(ingest.delivery_queue) == []
    (dead,) = drain(ingest.dead_letter_queue)
    assert dead.kind == "request" and dead.failure.stage == "translate"
    assert "jane@example.com" not in dead.failure.error
    kept = WebhookRequest.from_dict(dead.request)
    assert kept.body == body  # byte for byte, so a replay verifies and translates the same input
    assert "authorization" not in kept.headers
    assert kept.header("x-twilio-email-event-webhook-signature") == request.header("x-twilio-email-event-webhook-signature")


def test_only_ignored_events_are_acknowledged_without_queueing():
    body = json.dumps([json.loads(BATCH)[i] for i, e in enumerate(json.loads(BATCH)) if e["event"] in ("processed", "deferred")]).encode()
    ingest = make_ingest()
    outcome = ingest.handle("sendgrid", signed(body))
    assert (outcome.status, outcome.result, outcome.ignored) == (200, "ignored", 2)
    assert drain(ingest.delivery_queue) == []


def test_queue_down_answers_503_so_the_provider_retries():
    assert make_ingest(delivery=DownQueue()).handle("sendgrid", signed()).status == 503


def test_dlq_down_for_an_untranslatable_request_answers_503():
    body = b'[{"email":"jane@example.com","timestamp":1513299569}]'
    assert make_ingest(dead=DownQueue()).handle("sendgrid", signed(body)).status == 503


class EventsTooBigQueue(MemoryQueue):
    """A queue whose message limit falls between the raw request and the events it became.

    (SendGrid's JSON is bulkier than the events; compact sources such as player beacons are not.)
    """

    def put(self, envelope):
        if envelope.kind == "events":
            raise MessageTooLarge("events do not fit")
        return super().put(envelope)


def test_events_too_big_for_one_message_are_queued_as_the_raw_request():
    delivery = EventsTooBigQueue()
    ingest = make_ingest(delivery=delivery)
    assert ingest.handle("sendgrid", signed()).status == 200
    (envelope,) = drain(delivery)
    assert envelope.kind == "request" and WebhookRequest.from_dict(envelope.request).body == BATCH


def test_request_larger_than_any_message_is_refused_with_413():
    ingest = make_ingest(delivery=MemoryQueue(max_bytes=500))
    assert ingest.handle("sendgrid", signed()).status == 413


@pytest.mark.parametrize("base64_body", [False, True])
def test_function_url_event_through_the_powertools_resolver(base64_body):
    ingest = make_ingest()
    request = signed()
    event = request.to_function_url_event()
    if base64_body:  # Function URLs base64-encode bodies they consider binary
        event["body"], event["isBase64Encoded"] = base64.b64encode(BATCH).decode(), True
    response = ingest_resolver(ingest).resolve(event, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"accepted": 7, "ignored": 4}


def test_resolver_answers_404_off_route_and_500_on_a_bug(monkeypatch):
    ingest = make_ingest()
    app = ingest_resolver(ingest)
    event = signed().to_function_url_event()
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/a/b"
    assert app.resolve(event, None)["statusCode"] == 404
    monkeypatch.setattr(ingest, "handle", lambda *a: 1 / 0)
    assert app.resolve(signed().to_function_url_event(), None)["statusCode"] == 500
