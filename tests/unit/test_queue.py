"""The queues' own semantics: the durable local queue behaves like SQS; pointers are recognised."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ciohooks.envelope import Envelope
from ciohooks.queue import POINTER_CLASS, SqliteQueue, SqsQueue, pointer_of

ENVELOPE = Envelope(kind="events", source="email/sendgrid", received_at=datetime(2026, 12, 1, tzinfo=UTC), events=[{"messageId": "m1"}])


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def queues(tmp_path, clock, max_receive_count=3):
    dead = SqliteQueue(tmp_path / "q.sqlite3", "dead-letter", clock=clock)
    delivery = SqliteQueue(tmp_path / "q.sqlite3", "delivery", visibility_timeout=30, max_receive_count=max_receive_count, dead_letter=dead, clock=clock)
    return delivery, dead


def test_a_received_message_is_hidden_for_the_visibility_timeout_then_comes_back(tmp_path):
    clock = Clock()
    delivery, _ = queues(tmp_path, clock)
    delivery.put(ENVELOPE)
    (first,) = delivery.receive()
    assert first.receive_count == 1 and first.sent_at == 1_800_000_000.0 and Envelope.from_json(first.body) == ENVELOPE
    assert delivery.receive() == [] and delivery.approximate_depth(in_flight=True) == 1
    clock.now += 31
    (again,) = delivery.receive()
    assert again.message_id == first.message_id and again.receive_count == 2 and again.receipt != first.receipt


def test_change_visibility_backs_a_message_off_and_delete_needs_the_latest_receipt(tmp_path):
    clock = Clock()
    delivery, _ = queues(tmp_path, clock)
    delivery.put(ENVELOPE)
    (message,) = delivery.receive()
    delivery.change_visibility(message.receipt, 600)
    clock.now += 599
    assert delivery.receive() == []
    clock.now += 2
    (again,) = delivery.receive()
    delivery.delete(message.receipt)  # a stale receipt deletes nothing, as on SQS
    assert delivery.approximate_depth(in_flight=True) == 1
    delivery.delete(again.receipt)
    assert delivery.approximate_depth(in_flight=True) == 0


def test_the_redrive_backstop_moves_a_message_whole_after_max_receives(tmp_path):
    clock = Clock()
    delivery, dead = queues(tmp_path, clock, max_receive_count=2)
    delivery.put(ENVELOPE)
    for _ in range(2):
        assert len(delivery.receive()) == 1
        clock.now += 31
    assert delivery.receive() == []  # the third receive moves it instead
    assert dead.bodies() == [ENVELOPE.to_json()]


def test_what_was_put_survives_the_process(tmp_path):
    clock = Clock()
    delivery, _ = queues(tmp_path, clock)
    delivery.put(ENVELOPE)
    (message,) = delivery.receive()  # in flight when the process dies
    reopened, _ = queues(tmp_path, clock)
    clock.now += 31
    assert [m.message_id for m in reopened.receive()] == [message.message_id]


def test_pointers_are_the_sqs_extended_clients():
    body = json.dumps([POINTER_CLASS, {"s3BucketName": "b", "s3Key": "bodies/k.json"}])
    assert pointer_of(body) == ("b", "bodies/k.json")
    assert pointer_of(ENVELOPE.to_json()) is None and pointer_of('["software.amazon.payloadoffloading.PayloadS3Pointer", 1]') is None


def test_sqs_receive_takes_whole_seconds():
    class Client:
        def receive_message(self, **kwargs):
            self.kwargs = kwargs
            return {"Messages": [{"MessageId": "1", "ReceiptHandle": "r", "Body": "{}", "Attributes": {"ApproximateReceiveCount": "4", "SentTimestamp": "1800000000123"}}]}

    client = Client()
    (message,) = SqsQueue("https://sqs.example/q", client, claim_check=None).receive(wait_seconds=1.0)
    assert client.kwargs["WaitTimeSeconds"] == 1 and isinstance(client.kwargs["WaitTimeSeconds"], int)
    assert (message.receive_count, message.sent_at) == (4, 1_800_000_000.123)
