"""Delivery decisions: what reaches the sink, what is retried, what is dead-lettered and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ciohooks.config import Settings
from ciohooks.customerio import Rejected, SendResult
from ciohooks.deliver import DeliverApp, Deliverer, InboundMessage
from ciohooks.envelope import Envelope
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest

BATCH = (Path(__file__).parents[2] / "events" / "samples" / "email" / "sendgrid" / "batch.json").read_bytes()
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def ev(n: int) -> dict:
    return {"type": "track", "event": "Email Opened", "anonymousId": f"a{n}", "messageId": f"m{n}", "properties": {"email_id": f"e{n}"}}


class RecordingSink:
    """Accepts everything, except message ids it is told to refuse or to leave unsent."""

    def __init__(self, refuse=(), unsent=()):
        self.refuse, self.unsent, self.calls = set(refuse), set(unsent), []

    def send(self, events, deadline=None):
        self.calls.append(list(events))
        result = SendResult(requests=1)
        for e in events:
            if e["messageId"] in self.refuse:
                result.rejected.append(Rejected(e, "Customer.io answered 400: properties.email_id is required"))
            elif e["messageId"] in self.unsent:
                result.unsent.append(e)
            else:
                result.delivered.append(e)
        return result


def message(mid: str, envelope: Envelope, receives: int = 1) -> InboundMessage:
    return InboundMessage(mid, envelope.to_json(), receives)


def events_envelope(*numbers: int) -> Envelope:
    return Envelope(kind="events", source="email/sendgrid", received_at=NOW, events=[ev(n) for n in numbers])


def test_all_messages_of_a_batch_go_out_together():
    sink, dead = RecordingSink(), MemoryQueue()
    report = Deliverer(sink, dead).deliver([message("q1", events_envelope(1, 2)), message("q2", events_envelope(3))])
    assert len(sink.calls) == 1 and [e["messageId"] for e in sink.calls[0]] == ["m1", "m2", "m3"]
    assert report.retry == set() and report.delivered == 3 and dead.approximate_depth() == 0


def test_refused_events_are_dead_lettered_alone_with_the_reason():
    sink, dead = RecordingSink(refuse={"m2"}), MemoryQueue()
    report = Deliverer(sink, dead).deliver([message("q1", events_envelope(1, 2, 3), receives=2)])
    assert report.retry == set() and report.delivered == 2 and report.dead_lettered == 1
    (letter,) = [Envelope.from_json(m.body) for m in dead.receive()]
    assert [e["messageId"] for e in letter.events] == ["m2"]
    assert letter.failure.stage == "deliver" and "email_id" in letter.failure.error and letter.failure.attempts == 2


def test_unsent_events_make_only_their_message_retry():
    sink = RecordingSink(unsent={"m3"})
    report = Deliverer(sink, MemoryQueue()).deliver([message("q1", events_envelope(1, 2)), message("q2", events_envelope(3))])
    assert report.retry == {"q2"}


def test_raw_request_is_translated_at_delivery():
    request = WebhookRequest("POST", "/sendgrid", BATCH, {"content-type": "application/json"})
    envelope = Envelope(kind="request", source="email/sendgrid", received_at=NOW, request=request.to_dict())
    sink = RecordingSink()
    report = Deliverer(sink, MemoryQueue(), Settings({})).deliver([message("q1", envelope)])
    assert report.delivered == 7 and [e["event"] for e in sink.calls[0]][:2] == ["Email Delivered", "Email Bounced"]


def test_untranslatable_raw_request_goes_to_the_dlq_not_the_retry_loop():
    request = WebhookRequest("POST", "/sendgrid", b'{"not": "an array"}', {})
    envelope = Envelope(kind="request", source="email/sendgrid", received_at=NOW, request=request.to_dict())
    dead = MemoryQueue()
    report = Deliverer(RecordingSink(), dead).deliver([message("q1", envelope, receives=1)])
    assert report.retry == set()
    (letter,) = [Envelope.from_json(m.body) for m in dead.receive()]
    assert letter.kind == "request" and letter.failure.stage == "translate"


def test_a_foreign_message_is_left_to_the_redrive_policy():
    report = Deliverer(RecordingSink(), MemoryQueue()).deliver([InboundMessage("q1", "hello", 1)])
    assert report.retry == {"q1"}


def test_deliver_app_reports_partial_batch_failures():
    app = DeliverApp(Deliverer(RecordingSink(unsent={"m2"}), MemoryQueue()))
    records = [
        {"messageId": mid, "receiptHandle": mid, "body": env.to_json(), "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q", "awsRegion": "us-east-1"}
        for mid, env in (("q1", events_envelope(1)), ("q2", events_envelope(2)))
    ]
    result = app.handle({"Records": records}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "q2"}]}
