"""The Customer.io client's packing, retries and failure isolation, against a scripted session.

The integration suite runs the same client against the HTTP stand-in; here every decision is
checked without a socket: which requests were made, what was slept, what each event became.
"""

from __future__ import annotations

import json

import pytest
import requests

from ciohooks.customerio import MAX_BATCH_BYTES, MAX_EVENT_BYTES, CustomerIO


def event(n: int, size: int = 0) -> dict:
    return {"type": "track", "event": "Email Opened", "anonymousId": f"a{n}", "messageId": f"m{n}", "properties": {"email_id": f"e{n}", "pad": "x" * size}}


class FakeResponse:
    def __init__(self, status: int, body: object = None, headers: dict | None = None) -> None:
        self.status_code, self._body, self.headers = status, body if body is not None else {}, headers or {}
        self.reason, self.text = "", json.dumps(self._body)

    def json(self) -> object:
        return self._body


class ScriptedSession(requests.Session):
    """Answers each POST with the next scripted reply; a callable reply sees the batch."""

    def __init__(self, *replies) -> None:
        super().__init__()
        self.replies, self.calls = list(replies), []

    def post(self, url, data=None, timeout=None, **_):
        batch = json.loads(data)["batch"]
        self.calls.append({"url": url, "batch": batch, "bytes": len(data), "timeout": timeout, "headers": dict(self.headers)})
        reply = self.replies.pop(0) if self.replies else FakeResponse(200)
        if callable(reply):
            reply = reply(batch)
        if isinstance(reply, Exception):
            raise reply
        return reply


class Clock:
    def __init__(self) -> None:
        self.now, self.slept = 1000.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def client(session, clock=None, **kwargs) -> CustomerIO:
    clock = clock or Clock()
    return CustomerIO("key-123", session=session, sleep=clock.sleep, clock=clock, **kwargs)


def test_one_request_with_auth_strict_mode_and_region():
    session = ScriptedSession()
    result = client(session, region="eu").send([event(1), event(2)])
    assert [e["messageId"] for e in result.delivered] == ["m1", "m2"]
    (call,) = session.calls
    assert call["url"] == "https://cdp-eu.customer.io/v1/batch"
    assert call["headers"]["X-Strict-Mode"] == "1"
    assert session.auth == ("key-123", "")


def test_packs_stay_under_the_batch_limit_and_keep_order():
    events = [event(n, size=20_000) for n in range(60)]  # ~1.2 MB in all
    session = ScriptedSession()
    result = client(session).send(events)
    assert len(session.calls) == 3
    assert all(call["bytes"] <= MAX_BATCH_BYTES + 20 for call in session.calls)
    assert [e["messageId"] for call in session.calls for e in call["batch"]] == [f"m{n}" for n in range(60)]
    assert len(result.delivered) == 60 and not result.rejected and not result.unsent


def test_oversized_event_rejected_without_a_request():
    session = ScriptedSession()
    result = client(session).send([event(1, size=MAX_EVENT_BYTES), event(2)])
    assert [r.event["messageId"] for r in result.rejected] == ["m1"]
    assert "bytes" in result.rejected[0].reason
    assert [e["messageId"] for e in session.calls[0]["batch"]] == ["m2"]


def test_retries_429_honouring_retry_after_then_delivers():
    clock = Clock()
    session = ScriptedSession(FakeResponse(429, headers={"Retry-After": "7"}), FakeResponse(503), FakeResponse(200))
    result = client(session, clock).send([event(1)], deadline=clock.now + 60)
    assert len(session.calls) == 3
    assert clock.slept[0] >= 7  # Retry-After wins over a shorter backoff
    assert len(result.delivered) == 1


def test_connection_errors_and_timeouts_are_retried():
    session = ScriptedSession(requests.ConnectionError("reset"), requests.Timeout("slow"), FakeResponse(200))
    result = client(session).send([event(1)], deadline=None)
    assert len(session.calls) == 3 and len(result.delivered) == 1


def test_gives_up_at_the_deadline_and_leaves_events_unsent():
    clock = Clock()
    session = ScriptedSession(*[FakeResponse(500)] * 20)
    result = client(session, clock, max_attempts=20).send([event(1), event(2)], deadline=clock.now + 10)
    assert [e["messageId"] for e in result.unsent] == ["m1", "m2"]
    assert not result.delivered and not result.rejected
    assert clock.now <= 1000 + 10  # never slept past the deadline
    assert "500" in result.last_error


def test_retry_after_longer_than_the_time_left_is_not_waited_for():
    clock = Clock()
    session = ScriptedSession(FakeResponse(429, headers={"Retry-After": "120"}))
    result = client(session, clock).send([event(1)], deadline=clock.now + 30)
    assert len(session.calls) == 1 and len(result.unsent) == 1 and clock.slept == []


def test_a_bad_event_is_isolated_by_splitting_and_the_rest_delivered():
    def reject_m5(batch):
        if any(e["messageId"] == "m5" for e in batch):
            return FakeResponse(400, {"meta": {"errors": ["properties.email_id: required (user jane@example.com)"]}})
        return FakeResponse(200)

    session = ScriptedSession(*[reject_m5] * 50)
    result = client(session).send([event(n) for n in range(16)])
    assert sorted(e["messageId"] for e in result.delivered) == sorted(f"m{n}" for n in range(16) if n != 5)
    (rejected,) = result.rejected
    assert rejected.event["messageId"] == "m5"
    assert "400" in rejected.reason and "email_id" in rejected.reason
    assert "jane@example.com" not in rejected.reason  # Customer.io's text is redacted
    assert len(session.calls) <= 1 + 2 * 4  # a binary search, not one request per event


def test_bad_api_key_blames_no_event_and_stops():
    session = ScriptedSession(FakeResponse(401), FakeResponse(401))
    events = [event(n, size=20_000) for n in range(30)]  # two packs
    result = client(session).send(events)
    assert len(session.calls) == 1  # the second pack is not tried with a key known to be wrong
    assert len(result.unsent) == 30 and not result.rejected


def test_unknown_region_refused():
    with pytest.raises(ValueError):
        CustomerIO("k", region="mars")


def test_a_key_provider_is_asked_again_before_each_send():
    keys = iter(["old-key", "rotated-key"])
    session = ScriptedSession()
    io = CustomerIO(lambda: next(keys), session=session)
    io.send([event(1)])
    assert session.auth == ("old-key", "")
    io.send([event(2)])
    assert session.auth == ("rotated-key", "")


def _refuse_named(bad: set[str]):
    """A 400 naming each refused event by its position (``batch[i]``), as the stand-in answers."""

    def reply(batch):
        errors = [f"batch[{i}] (Email Opened) /properties: missing required property 'email_id'" for i, e in enumerate(batch) if e["messageId"] in bad]
        return FakeResponse(400, {"meta": {"errors": errors}}) if errors else FakeResponse(200)

    return reply


def test_refused_events_named_by_index_cost_one_extra_request():
    bad = {"m3", "m40", "m77"}
    session = ScriptedSession(*[_refuse_named(bad)] * 10)
    result = client(session).send([event(n) for n in range(100)])
    assert len(session.calls) == 2  # the refused batch, then the 97 others at once
    assert [len(c["batch"]) for c in session.calls] == [100, 97]
    assert sorted(r.event["messageId"] for r in result.rejected) == ["m3", "m40", "m77"]
    assert result.rejected[0].reason == "Customer.io answered 400: event (Email Opened) /properties: missing required property 'email_id'"
    assert len(result.delivered) == 97 and not result.unsent


def test_errors_as_objects_with_batch_index_are_read_too():
    def reply(batch):
        if any(e["messageId"] == "m2" for e in batch):
            return FakeResponse(400, {"errors": [{"batch_index": 2, "reason": "invalid", "field": "email", "message": "email is invalid"}]})
        return FakeResponse(200)

    session = ScriptedSession(reply, reply)
    result = client(session).send([event(n) for n in range(5)])
    assert len(session.calls) == 2
    assert [r.event["messageId"] for r in result.rejected] == ["m2"] and result.rejected[0].reason == "Customer.io answered 400: email is invalid"


def test_an_error_that_names_no_event_falls_back_to_bisection():
    def reply(batch):
        if any(e["messageId"] == "m6" for e in batch):
            return FakeResponse(400, {"meta": {"errors": ["batch[0] fine", "something is wrong somewhere"]}})
        return FakeResponse(200)

    session = ScriptedSession(*[reply] * 20)
    result = client(session).send([event(n) for n in range(8)])
    assert [r.event["messageId"] for r in result.rejected] == ["m6"]
    assert len(result.delivered) == 7 and len(session.calls) == 7  # 1 + 2 per level of 3 halvings


def test_a_broken_answer_is_a_transient_failure_not_an_exception():
    clock = Clock()
    session = ScriptedSession(requests.exceptions.ChunkedEncodingError("connection broken"), FakeResponse(200))
    result = client(session, clock).send([event(1)])
    assert len(result.delivered) == 1 and len(session.calls) == 2


def test_retry_after_is_reported_for_the_backoff_of_the_message():
    clock = Clock()
    session = ScriptedSession(*[FakeResponse(429, headers={"Retry-After": "90"})] * 3)
    result = client(session, clock).send([event(1)], deadline=clock.now + 30)
    assert result.retry_after == 90.0 and len(result.unsent) == 1


def test_an_event_that_is_not_json_is_rejected_alone():
    session = ScriptedSession()
    result = client(session).send([event(1), {"messageId": "m2", "properties": {"x": float("nan")}}])
    assert [e["messageId"] for e in result.delivered] == ["m1"]
    assert [r.reason for r in result.rejected] == ["event is not valid JSON (ValueError)"]


def test_an_error_quoting_the_message_id_names_its_event():
    def reply(batch):
        if any(e["messageId"] == "m4" for e in batch):
            return FakeResponse(400, {"meta": {"errors": ["event m4: properties.email_id is required"]}})
        return FakeResponse(200)

    session = ScriptedSession(reply, reply)
    result = client(session).send([event(n) for n in range(8)])
    assert len(session.calls) == 2 and [r.event["messageId"] for r in result.rejected] == ["m4"]


@pytest.mark.parametrize("answer", [{"meta": ["not an object"]}, {"meta": {"errors": "one string"}}, ["a list"], "text"])
def test_a_400_of_any_shape_is_a_refusal_not_an_exception(answer):
    # send() never raises (the module's promise): an answer whose meta is not an object once did.
    session = ScriptedSession(*[FakeResponse(400, answer)] * 3)
    result = client(session).send([event(1)])
    assert [r.event["messageId"] for r in result.rejected] == ["m1"]
    assert result.rejected[0].reason.startswith("Customer.io answered 400: ")


def test_near_the_deadline_both_timeouts_shrink_to_the_time_left():
    clock = Clock()
    session = ScriptedSession(FakeResponse(200))
    client(session, clock).send([event(1)], deadline=clock.now + 1.5)
    assert session.calls[0]["timeout"] == (1.25, 1.25)  # not the full 3.05 s connect timeout
