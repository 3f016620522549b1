"""Delivery decisions: what reaches the sink, what is retried, what is dead-lettered and why."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from ciohooks import budgets
from ciohooks import deliver as deliver_module
from ciohooks.config import ConfigurationError, Settings
from ciohooks.customerio import Rejected, SendResult
from ciohooks.deliver import DeliverApp, Deliverer, InboundMessage, RetryPolicy
from ciohooks.envelope import Envelope
from ciohooks.queue import ClaimCheck, MemoryQueue
from ciohooks.request import WebhookRequest

BATCH = (Path(__file__).parents[2] / "events" / "samples" / "email" / "sendgrid" / "batch.json").read_bytes()
NOW = datetime(2026, 11, 23, tzinfo=UTC)
SOON = NOW.timestamp() + 60  # the deliverer's clock: a minute after the webhook arrived


def ev(n: int) -> dict:
    return {"type": "track", "event": "Email Opened", "anonymousId": f"a{n}", "messageId": f"m{n}", "properties": {"email_id": f"e{n}"}}


class RecordingSink:
    """Accepts everything, except message ids it is told to refuse or to leave unsent."""

    def __init__(self, refuse=(), unsent=()):
        self.refuse, self.unsent, self.calls = set(refuse), set(unsent), []

    def send(self, events, deadline=None):
        self.calls.append(list(events))
        result = SendResult(requests=1, last_error="Customer.io answered 503: unavailable" if self.unsent else None)
        for e in events:
            if e["messageId"] in self.refuse:
                result.rejected.append(Rejected(e, "Customer.io answered 400: properties.email_id is required"))
            elif e["messageId"] in self.unsent:
                result.unsent.append(e)
            else:
                result.delivered.append(e)
        return result


def message(mid: str, envelope: Envelope, receives: int = 1, sent_at: float | None = None) -> InboundMessage:
    return InboundMessage(mid, envelope.to_json(), receives, receipt=f"receipt-{mid}", sent_at=sent_at)


class BackoffQueue(MemoryQueue):
    """A delivery queue that records the backoffs (ChangeMessageVisibility) it is asked for."""

    def __init__(self):
        super().__init__()
        self.visibility: dict[str, int] = {}

    def change_visibilities(self, backoffs):
        self.visibility.update(backoffs)
        return len(backoffs)


def deliverer(sink, dead=None, delivery=None, settings=None, now=SOON, **kwargs) -> Deliverer:
    return Deliverer(sink, dead if dead is not None else MemoryQueue(), settings or Settings({}), delivery_queue=delivery,
                     clock=lambda: now, rng=random.Random(7), **kwargs)


def letters(queue: MemoryQueue) -> list[Envelope]:
    return [Envelope.from_json(m.body) for m in queue.receive(max_messages=100)]


def events_envelope(*numbers: int, request: dict | None = None) -> Envelope:
    return Envelope(kind="events", source="email/sendgrid", received_at=NOW, events=[ev(n) for n in numbers], request=request)


SENDGRID_REQUEST = WebhookRequest("POST", "/sendgrid", BATCH, {"content-type": "application/json"}, received_at=NOW).to_dict()


def test_all_messages_of_a_batch_go_out_together():
    sink, dead = RecordingSink(), MemoryQueue()
    report = deliverer(sink, dead).deliver([message("q1", events_envelope(1, 2)), message("q2", events_envelope(3))])
    assert len(sink.calls) == 1 and [e["messageId"] for e in sink.calls[0]] == ["m1", "m2", "m3"]
    assert report.retry == set() and report.delivered == 3 and dead.approximate_depth() == 0


def test_refused_events_are_dead_lettered_alone_with_the_request_and_what_to_exclude():
    sink, dead = RecordingSink(refuse={"m2"}), MemoryQueue()
    report = deliverer(sink, dead).deliver([message("q1", events_envelope(1, 2, 3, request=SENDGRID_REQUEST), receives=2)])
    assert report.retry == set() and report.delivered == 2 and report.dead_lettered == 1
    (letter,) = letters(dead)
    assert [e["messageId"] for e in letter.events] == ["m2"] and letter.exclude_ids == ["m1", "m3"]
    assert letter.request == SENDGRID_REQUEST  # replay translates the request again
    assert letter.failure.stage == "deliver" and letter.failure.attempts == 2
    assert letter.failure.error == "Customer.io answered 400: properties.email_id is required"
    replay = letter.for_replay()
    assert replay.kind == "request" and replay.events is None and replay.exclude_ids == ["m1", "m3"]


def test_unsent_events_make_only_their_message_retry_with_a_backoff():
    sink, delivery = RecordingSink(unsent={"m3"}), BackoffQueue()
    report = deliverer(sink, delivery=delivery).deliver([message("q1", events_envelope(1, 2)), message("q2", events_envelope(3), receives=1)])
    assert report.retry == {"q2"}
    assert delivery.visibility == {"receipt-q2": 30}  # first receive: the base of 30 s


def test_backoff_is_exponential_with_full_jitter_capped_and_retry_after_wins():
    policy = RetryPolicy(horizon_seconds=72 * 3600, backoff_base=30, backoff_cap=1800)
    rng = random.Random(20261202)
    fifth = [policy.backoff(5, rng=rng) for _ in range(200)]
    assert min(fifth) == 30 and 240 <= max(fifth) <= 480  # uniform(0, 30 x 2^4), never under the base
    assert {policy.backoff(40, rng=rng) for _ in range(50)} <= set(range(30, 1801))
    assert policy.backoff(1, retry_after=600, rng=rng) == 600
    assert policy.backoff(1, retry_after=90_000, rng=rng) == 1800  # capped, like every backoff


def test_retry_settings_are_checked_once():
    with pytest.raises(ConfigurationError, match="DELIVERY_BACKOFF"):
        RetryPolicy.from_settings(Settings({"CIOHOOKS_DELIVERY_BACKOFF_CAP_SECONDS": "50000"}))
    policy = RetryPolicy.from_settings(Settings({"CIOHOOKS_DELIVERY_RETRY_HORIZON_HOURS": "96"}))
    assert policy.horizon_seconds == 345_600


def test_past_the_horizon_the_undelivered_events_go_to_the_dlq_with_the_reason():
    sink, dead, delivery = RecordingSink(unsent={"m2"}), MemoryQueue(), BackoffQueue()
    sent = SOON - 73 * 3600
    report = deliverer(sink, dead, delivery).deliver([message("q1", events_envelope(1, 2, request=SENDGRID_REQUEST), receives=140, sent_at=sent)])
    assert report.retry == set() and delivery.visibility == {}
    (letter,) = letters(dead)
    assert [e["messageId"] for e in letter.events] == ["m2"] and letter.exclude_ids == ["m1"]
    assert letter.failure.stage == "deliver"
    assert letter.failure.error == "not delivered within the retry horizon of 72 hours: Customer.io answered 503: unavailable"


def test_before_the_horizon_an_old_message_is_still_retried():
    sink, dead = RecordingSink(unsent={"m1"}), MemoryQueue()
    report = deliverer(sink, dead).deliver([message("q1", events_envelope(1), receives=100, sent_at=SOON - 71 * 3600)])
    assert report.retry == {"q1"} and dead.approximate_depth() == 0


def test_refused_and_unsent_events_split_once_and_the_remainder_goes_on():
    sink, dead, delivery = RecordingSink(refuse={"m2"}, unsent={"m3", "m4"}), MemoryQueue(), BackoffQueue()
    report = deliverer(sink, dead, delivery).deliver([message("q1", events_envelope(1, 2, 3, 4, request=SENDGRID_REQUEST))])
    assert report.retry == set() and report.requeued == 1  # the original message is done
    (letter,) = letters(dead)
    assert [e["messageId"] for e in letter.events] == ["m2"] and letter.exclude_ids == ["m1", "m3", "m4"]
    (remainder,) = letters(delivery)
    assert [e["messageId"] for e in remainder.events] == ["m3", "m4"]
    assert remainder.exclude_ids == ["m1", "m2"] and remainder.request == SENDGRID_REQUEST

    # The remainder delivers later; nothing is dead-lettered a second time.
    sink.unsent = set()
    report = deliverer(sink, dead, delivery).deliver([message("q2", remainder)])
    assert report.delivered == 2 and report.retry == set() and dead.approximate_depth() == 0


def test_a_remainder_keeps_the_horizon_of_the_first_queueing():
    # Queued 71 hours ago; the remainder is a new SQS message (SentTimestamp: now) but keeps queued_at.
    sink, dead, delivery = RecordingSink(refuse={"m2"}, unsent={"m3"}), MemoryQueue(), BackoffQueue()
    first = events_envelope(1, 2, 3, request=SENDGRID_REQUEST).model_copy(update={"queued_at": datetime(2026, 11, 20, 1, tzinfo=UTC)})
    deliverer(sink, dead, delivery).deliver([message("q1", first, sent_at=SOON - 71 * 3600)])
    (remainder,) = letters(delivery)
    assert remainder.queued_at == datetime(2026, 11, 20, 1, tzinfo=UTC)

    # Two hours later it is past the 72-hour horizon, though its own message is two hours old.
    two_hours_later = SOON + 2 * 3600
    report = deliverer(sink, dead, delivery, now=two_hours_later).deliver([message("q2", remainder, sent_at=SOON)])
    assert report.oldest_age_seconds == 73 * 3600 + 60  # the age alarm sees it too (not the 2 h of its message)
    horizon = [letter for letter in letters(dead) if letter.failure.error.startswith("not delivered within")]
    assert [[e["messageId"] for e in letter.events] for letter in horizon] == [["m3"]]


def test_queued_at_wins_over_the_sqs_sent_timestamp():
    # A replayed dead letter: queued again a minute ago, though SQS says its message is older.
    sink, dead = RecordingSink(unsent={"m1"}), MemoryQueue()
    fresh = events_envelope(1).model_copy(update={"queued_at": datetime(2026, 11, 23, tzinfo=UTC)})
    report = deliverer(sink, dead).deliver([message("q1", fresh, receives=100, sent_at=SOON - 80 * 3600)])
    assert report.retry == {"q1"} and dead.approximate_depth() == 0


def test_a_replay_gets_a_fresh_horizon():
    letter = events_envelope(1, request=SENDGRID_REQUEST).model_copy(update={"queued_at": datetime(2026, 11, 20, tzinfo=UTC)})
    before = datetime.now(UTC)
    replay = letter.for_replay()
    assert replay.queued_at is not None and replay.queued_at >= before
    assert replay.received_at == NOW  # the provider's time stays


def test_a_replayed_request_skips_the_excluded_events():
    envelope = Envelope(kind="request", source="email/sendgrid", received_at=NOW, request=SENDGRID_REQUEST, exclude_ids=[])
    sink = RecordingSink()
    deliverer(sink).deliver([message("q1", envelope)])
    ids = [e["messageId"] for e in sink.calls[0]]
    replayed = RecordingSink()
    deliverer(replayed).deliver([message("q2", envelope.model_copy(update={"exclude_ids": ids[1:]}))])
    assert [e["messageId"] for e in replayed.calls[0]] == ids[:1]


def test_raw_request_is_translated_at_delivery():
    envelope = Envelope(kind="request", source="email/sendgrid", received_at=NOW, request=SENDGRID_REQUEST)
    sink = RecordingSink()
    report = deliverer(sink).deliver([message("q1", envelope)])
    assert report.delivered == 7 and [e["event"] for e in sink.calls[0]][:2] == ["Email Delivered", "Email Bounced"]


def test_untranslatable_raw_request_goes_to_the_dlq_not_the_retry_loop():
    request = WebhookRequest("POST", "/sendgrid", b'{"not": "an array"}', {})
    envelope = Envelope(kind="request", source="email/sendgrid", received_at=NOW, request=request.to_dict())
    dead = MemoryQueue()
    report = deliverer(RecordingSink(), dead).deliver([message("q1", envelope, receives=1)])
    assert report.retry == set()
    (letter,) = letters(dead)
    assert letter.kind == "request" and letter.failure.stage == "translate"


def test_a_foreign_message_is_dead_lettered_whole_at_once():
    dead = MemoryQueue()
    report = deliverer(RecordingSink(), dead).deliver([InboundMessage("q1", "hello", 1)])
    assert report.retry == set() and [m.body for m in dead.receive()] == ["hello"]


@pytest.mark.parametrize("seconds_left, dead_lettered", [(20.0, True), (8.0, False)])
def test_a_dead_letter_starts_only_with_time_for_a_whole_put(monkeypatch, seconds_left, dead_lettered):
    # A put may be a SendMessage and a PutObject (a claim-checked envelope): 9.5 s at worst. When
    # sending leaves 8 s (more than the SendMessage alone), the message is retried, not cut off mid-put.
    now = [1000.0]
    monkeypatch.setattr(deliver_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    send_deadline = 1030.0
    function_ends = send_deadline + budgets.DELIVER_SETTLE_SECONDS

    class SlowSink(RecordingSink):
        def send(self, events, deadline=None):
            now[0] = function_ends - seconds_left  # the Customer.io request took this long
            return super().send(events, deadline)

    dead = MemoryQueue()
    report = deliverer(SlowSink(refuse={"m2"}), dead).deliver([message("q1", events_envelope(1, 2))], deadline=send_deadline)
    assert (dead.approximate_depth() == 1) is dead_lettered
    assert report.retry == (set() if dead_lettered else {"q1"})


def test_a_poison_record_among_100_fails_alone(caplog, monkeypatch):
    good = [message(f"q{n}", events_envelope(n)) for n in range(99)]
    # Its body cannot be fetched (say S3 is unreachable): a passing fault, so the message is retried.
    poison = InboundMessage("poison", "poison-pointer", 1, receipt="receipt-poison")

    def unreachable(body, claim_check):
        if body == "poison-pointer":
            raise RuntimeError("S3 unreachable")
        return body

    monkeypatch.setattr(deliver_module, "resolve", unreachable)
    sink, delivery = RecordingSink(), BackoffQueue()
    report = deliverer(sink, delivery=delivery).deliver(good[:50] + [poison] + good[50:])
    assert report.retry == {"poison"} and report.delivered == 99 and len(sink.calls) == 1
    assert list(delivery.visibility) == ["receipt-poison"]
    (line,) = [r.getMessage() for r in caplog.records if "poison" in r.getMessage()]
    assert line.startswith("message poison failed before delivery; it will be retried: RuntimeError: S3 unreachable at test_deliver.py:")
    assert line.endswith(" in unreachable")


def test_a_stored_request_no_code_can_read_is_kept_whole_not_retried():
    # A stored request whose received_at is not a date: WebhookRequest.from_dict raises ValueError.
    # Retrying cannot change it; the DLQ keeps it whole for a replay with a fixed reader.
    good = [message(f"q{n}", events_envelope(n)) for n in range(3)]
    unreadable = Envelope(kind="request", source="email/sendgrid", received_at=NOW, request={**SENDGRID_REQUEST, "received_at": "yesterday"})
    sink, dead = RecordingSink(), MemoryQueue()
    report = deliverer(sink, dead=dead).deliver(good[:1] + [message("unreadable", unreadable)] + good[1:])
    assert report.retry == set() and report.delivered == 3
    (letter,) = letters(dead)
    assert letter.request == unreadable.request and letter.failure.stage == "translate"
    assert letter.failure.error == "stored request unreadable (ValueError)"


def test_a_sink_that_raises_fails_only_the_message_that_caused_it():
    class Fussy(RecordingSink):
        def send(self, events, deadline=None):
            if any(e["messageId"] == "m7" for e in events):
                raise RuntimeError("unforeseen")
            return super().send(events, deadline)

    sink = Fussy()
    report = deliverer(sink).deliver([message("q1", events_envelope(1, 2)), message("q7", events_envelope(7)), message("q3", events_envelope(3))])
    assert report.retry == {"q7"} and report.delivered == 3


def test_a_claim_checked_body_is_read_from_s3():
    class S3:
        def __init__(self):
            self.objects = {}

        def put_object(self, Bucket, Key, Body, ContentType):  # noqa: N803 - boto3's names
            self.objects[(Bucket, Key)] = Body

        def get_object(self, Bucket, Key):  # noqa: N803
            import io

            return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    claims = ClaimCheck("bodies-bucket", client=S3())
    pointer = claims.store(events_envelope(1, 2).to_json())
    assert json.loads(pointer)[0] == "software.amazon.payloadoffloading.PayloadS3Pointer"
    assert json.loads(pointer)[1]["s3BucketName"] == "bodies-bucket"
    sink = RecordingSink()
    report = deliverer(sink, claim_check=claims).deliver([InboundMessage("q1", pointer, 1)])
    assert report.delivered == 2 and report.retry == set()


def test_deliver_app_reports_partial_batch_failures():
    delivery = BackoffQueue()
    app = DeliverApp(deliverer(RecordingSink(unsent={"m2"}), delivery=delivery))
    records = [
        {"messageId": mid, "receiptHandle": f"receipt-{mid}", "body": env.to_json(), "attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": str(int(SOON * 1000) - 5000)}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q", "awsRegion": "us-east-1"}
        for mid, env in (("q1", events_envelope(1)), ("q2", events_envelope(2)))
    ]
    result = app.handle({"Records": records}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "q2"}]}
    assert list(delivery.visibility) == ["receipt-q2"] and 30 <= delivery.visibility["receipt-q2"] <= 120
