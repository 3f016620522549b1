"""Ingest decisions on SendGrid's own samples: what is answered, what is queued, what is kept."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
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
    before = datetime.now(UTC)
    outcome = ingest.handle("sendgrid", signed())
    assert (outcome.status, outcome.result, outcome.events, outcome.ignored) == (200, "queued", 7, 4)
    (envelope,) = drain(ingest.delivery_queue)
    assert envelope.kind == "events" and envelope.source == "email/sendgrid"
    assert [e["event"] for e in envelope.events] == [
        "Email Delivered", "Email Bounced", "Email Opened", "Email Link Clicked",
        "Email Marked as Spam", "Email Unsubscribed", "Email Unsubscribed",
    ]
    assert before <= envelope.queued_at <= datetime.now(UTC)  # the retry horizon starts here
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
    assert envelope.queued_at is not None


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


# ---- nothing authentic is dropped: unknown types, failed items, any error of a mapping ------------

# The messageIds of the batch's events (UUIDv5 of the source and sg_event_id), in batch order.
BATCH_IDS = {
    "delivered": "f8d49b2b-c4ce-5b8c-abee-2c39238d7f72",
    "bounce": "b9d24433-63df-58af-bec4-de015d149746",
    "open": "7128e3a3-53f1-5065-9169-9f456b6a7b9e",
    "click": "f0d2bf07-1704-5a38-8b44-0bdee9d1b5aa",
    "spamreport": "372babe8-cb31-549e-b1b9-d778a6aa8fea",
    "unsubscribe": "9d96cad0-7b07-53cb-863b-91e6b71a1266",
    "group_unsubscribe": "6505cd16-8a82-5085-b8fa-be0146372cc7",
}


def batch_with(**renamed: str) -> bytes:
    """SendGrid's sample batch with some event types renamed (a type a later SendGrid might send)."""
    return json.dumps([{**e, "event": renamed.get(e["event"], e["event"])} for e in json.loads(BATCH)]).encode()


def test_every_events_message_carries_the_raw_request_without_credentials():
    ingest = make_ingest()
    request = signed(authorization="Basic c2VjcmV0")
    ingest.handle("sendgrid", request)
    (envelope,) = drain(ingest.delivery_queue)
    assert envelope.v == 2 and envelope.kind == "events" and envelope.exclude_ids is None
    kept = WebhookRequest.from_dict(envelope.request)
    assert kept.body == BATCH and "authorization" not in kept.headers
    assert kept.header("x-twilio-email-event-webhook-signature") == request.header("x-twilio-email-event-webhook-signature")


def test_an_unknown_type_queues_the_valid_events_and_keeps_the_whole_request_for_replay():
    ingest = make_ingest()
    body = batch_with(delivered="delivered_v2")
    outcome = ingest.handle("sendgrid", signed(body))
    assert (outcome.status, outcome.result, outcome.events, outcome.ignored, outcome.unknown, outcome.kept) == (200, "queued", 6, 4, 1, True)
    assert json.loads(outcome.response_body()) == {"accepted": 6, "ignored": 4, "dead_lettered": True}
    (queued,) = drain(ingest.delivery_queue)
    queued_ids = [e["messageId"] for e in queued.events]
    assert queued_ids == [BATCH_IDS[k] for k in ("bounce", "open", "click", "spamreport", "unsubscribe", "group_unsubscribe")]
    (dead,) = drain(ingest.dead_letter_queue)
    assert (dead.kind, dead.failure.stage, dead.failure.error) == ("request", "translate", "unknown event type 'delivered_v2' (x1)")
    assert dead.exclude_ids == sorted(queued_ids)
    assert WebhookRequest.from_dict(dead.request).body == body


def test_a_type_counted_as_ignored_but_not_declared_is_kept_as_unknown(monkeypatch):
    """Only ``ignored_types`` may be dropped: a source that forgets to declare one cannot lose it."""
    from ciohooks.sources.email.sendgrid import SendGrid

    monkeypatch.setattr(SendGrid, "ignored_types", {k: v for k, v in SendGrid.ignored_types.items() if k != "dropped"})
    ingest = make_ingest()
    outcome = ingest.handle("sendgrid", signed())
    assert (outcome.events, outcome.ignored, outcome.unknown) == (7, 3, 1)
    (dead,) = drain(ingest.dead_letter_queue)
    assert dead.failure.error == "unknown event type 'dropped' (x1)"
    assert dead.exclude_ids == sorted(BATCH_IDS.values())


def test_nothing_translated_and_a_type_unknown_keeps_only_the_request():
    body = json.dumps([{**json.loads(BATCH)[2], "event": "delivered_v2"}]).encode()
    ingest = make_ingest()
    outcome = ingest.handle("sendgrid", signed(body))
    assert (outcome.status, outcome.result, outcome.unknown) == (200, "dead_lettered", 1)
    assert drain(ingest.delivery_queue) == []
    (dead,) = drain(ingest.dead_letter_queue)
    assert dead.exclude_ids is None and dead.failure.error == "unknown event type 'delivered_v2' (x1)"


def test_dlq_down_when_part_of_a_batch_is_unknown_answers_503_so_the_provider_retries():
    ingest = make_ingest(dead=DownQueue())
    assert ingest.handle("sendgrid", signed(batch_with(open="open_v2"))).status == 503


@pytest.mark.parametrize("error", [ZeroDivisionError("x"), RecursionError("maximum recursion depth exceeded"), MemoryError(), LookupError("jane@example.com")])
def test_any_error_of_a_mapping_keeps_the_request_with_the_error_class_only(monkeypatch, error):
    from ciohooks.sources.email import sendgrid

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(sendgrid, "parse_batch", broken)
    ingest = make_ingest()
    outcome = ingest.handle("sendgrid", signed())
    assert (outcome.status, outcome.result) == (200, "dead_lettered")
    (dead,) = drain(ingest.dead_letter_queue)
    assert dead.failure.error == f"unexpected payload shape ({type(error).__name__} in sendgrid.translate)"  # the innermost frame of the library


def test_an_authentic_body_nested_5000_deep_is_kept_in_the_dlq_not_a_500():
    body = b"[" * 5000 + b"]" * 5000
    ingest = make_ingest()
    response = ingest_resolver(ingest).resolve(signed(body).to_function_url_event(), None)
    assert response["statusCode"] == 200
    (dead,) = drain(ingest.dead_letter_queue)
    assert dead.failure.error == "body is not JSON we read (nested deeper than 100 levels)"
    assert WebhookRequest.from_dict(dead.request).body == body


def test_a_probe_check_that_cannot_read_the_body_is_no_probe(monkeypatch):
    """SparkPost's looks for its validation batch before authentication: a body it cannot parse is
    no validation batch, and goes on to authentication (an authentic one is then kept)."""
    from ciohooks.sources.email.sendgrid import SendGrid

    def unreadable(self, request):
        return json.loads(b"[" * 100_000 + b"]" * 100_000)  # RecursionError

    monkeypatch.setattr(SendGrid, "reply_before_auth", unreadable)
    assert make_ingest().handle("sendgrid", signed()).status == 200
    forged = WebhookRequest("POST", "/sendgrid", BATCH, {**signed().headers, "x-twilio-email-event-webhook-timestamp": "1"})
    assert make_ingest().handle("sendgrid", forged).status == 401


def test_a_body_authentication_cannot_read_is_a_401(monkeypatch):
    from ciohooks.sources.email.sendgrid import SendGrid

    def unreadable(self, request):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(SendGrid, "authenticate", unreadable)
    ingest = make_ingest()
    assert ingest.handle("sendgrid", signed()).status == 401
    assert drain(ingest.delivery_queue) == [] and drain(ingest.dead_letter_queue) == []


def test_unknown_types_are_counted_in_a_metric_per_source(monkeypatch):
    from ciohooks import handlers

    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "email-ingest")
    monkeypatch.setattr(handlers.metrics, "namespace", "CioHooks")
    outcome = make_ingest().handle("sendgrid", signed(batch_with(delivered="delivered_v2", open="open_v2")))
    handlers.metrics.clear_metrics()
    try:
        handlers.record_ingest_metrics(outcome)
        emitted = handlers.metrics.serialize_metric_set()
    finally:
        handlers.metrics.clear_metrics()
    assert emitted["source"] == "email/sendgrid"
    assert (emitted["UnknownEventTypes"], emitted["DeadLettered"], emitted["Queued"], emitted["EventsQueued"]) == ([2.0], [1.0], [1.0], [5.0])


# ---- replay: deliver translates the request again, sends what is missing, keeps the rest once ----


class UnsentSink:
    """Customer.io unavailable for the first ``outage`` sends: every event is left unsent."""

    def __init__(self, outage: int):
        self.outage, self.sent = outage, []

    def send(self, events, deadline=None):
        from ciohooks.customerio import SendResult

        if self.outage > 0:
            self.outage -= 1
            return SendResult(unsent=list(events), requests=1)
        self.sent.extend(events)
        return SendResult(delivered=list(events), requests=1)


def test_a_replayed_request_sends_only_what_is_missing_and_keeps_what_still_does_not_translate_once():
    from ciohooks.deliver import Deliverer, InboundMessage

    ingest = make_ingest()
    ingest.handle("sendgrid", signed(batch_with(delivered="delivered_v2", open="open_v2")))
    (dead,) = drain(ingest.dead_letter_queue)
    replayed = dead.for_replay()
    assert (replayed.kind, replayed.failure, replayed.exclude_ids) == ("request", None, dead.exclude_ids)

    # The mapping learnt delivered_v2 (as delivered), not open_v2. Customer.io is down on the first receive.
    from ciohooks.sources.email import sendgrid

    sink, dlq = UnsentSink(outage=1), MemoryQueue()
    deliverer = Deliverer(sink, dlq, Settings({"CIOHOOKS_SENDGRID_VERIFICATION_KEY": PUBLIC_KEY}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sendgrid.EVENTS, "delivered_v2", sendgrid.EVENTS["delivered"])
        first = deliverer.deliver([InboundMessage("q1", replayed.to_json(), 1)])
        assert first.retry == {"q1"} and dlq.approximate_depth() == 0  # nothing kept while the message is retried
        second = deliverer.deliver([InboundMessage("q1", replayed.to_json(), 2)])
    assert second.retry == set()
    assert [e["event"] for e in sink.sent] == ["Email Delivered"]  # the five sent at ingest are excluded
    (still,) = drain(dlq)
    assert (still.failure.stage, still.failure.error) == ("translate", "unknown event type 'open_v2' (x1)")
    assert still.exclude_ids == sorted(set(dead.exclude_ids) | {BATCH_IDS["delivered"]})


def test_a_secret_store_outage_during_authentication_asks_the_provider_to_retry(monkeypatch):
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from ciohooks.sources.email.sendgrid import SendGrid

    def unreachable(self, name):
        raise GetParameterError("An error occurred (ThrottlingException) when calling the GetSecretValue operation")

    monkeypatch.setattr(SendGrid, "secret", unreachable)
    ingest = make_ingest()
    outcome = ingest.handle("sendgrid", signed())
    assert (outcome.status, outcome.result) == (503, "failed")
    assert drain(ingest.delivery_queue) == [] and drain(ingest.dead_letter_queue) == []
