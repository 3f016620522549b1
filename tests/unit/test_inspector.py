"""The inspector's record of each request, without HTTP or a browser: the verdicts, the events a
request became and their delivery, dead letters and replay (serve's embedded pipeline, dry-run sink).
The page itself is tested in Chromium: tests/integration/test_inspector_browser.py."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.inspector import Inspector
from ciohooks.local import LocalPipeline
from ciohooks.samples import local_keys, sample_request, signing_key

EVENTS = Path(__file__).parents[2] / "events"
KEYS = EVENTS / "keys"
SENDGRID = sources.load("email/sendgrid")


@pytest.fixture
def inspector() -> Inspector:
    pipeline = LocalPipeline(Settings(local_keys(KEYS)), write=lambda line: None)
    return Inspector(pipeline, KEYS, EVENTS / "samples").attach()


def signed(sample: str, body: bytes | None = None):
    request = sample_request(SENDGRID, EVENTS / "samples/email/sendgrid" / sample, received_at=datetime.now(UTC), path="/sendgrid")
    if body is not None:
        request = dataclasses.replace(request, body=body)
    return SENDGRID.sign(request, signing_key(SENDGRID, KEYS))


def test_each_verdict(inspector: Inspector) -> None:
    pipeline = inspector.pipeline
    pipeline.handle(signed("open.json"))
    pipeline.handle(sample_request(SENDGRID, EVENTS / "samples/email/sendgrid/open.json", path="/sendgrid"))  # unsigned
    pipeline.handle(signed("processed.json"))
    pipeline.handle(signed("open.json", body=b"[{not json"))
    pipeline.handle(signed("open.json").__class__("POST", "/nowhere"))
    seen = {r["id"]: r for r in inspector.state()["requests"]}
    assert [(seen[i]["source"], seen[i]["status"], seen[i]["verdict"], seen[i]["reason"]) for i in range(1, 6)] == [
        ("email/sendgrid", 200, "queued", ""),
        ("email/sendgrid", 401, "unauthorized", ""),
        ("email/sendgrid", 200, "ignored", "1 event(s) ignored on purpose"),
        ("email/sendgrid", 200, "dead-lettered", "body is not JSON (JSONDecodeError)"),
        ("", 404, "no such route", "no such source"),
    ]
    assert seen[1]["events"] == [{"name": "Email Opened", "message_id": "7128e3a3-53f1-5065-9169-9f456b6a7b9e", "who": "<email>", "delivery": "queued"}]


def test_delivery_result_and_replay(inspector: Inspector) -> None:
    pipeline = inspector.pipeline
    pipeline.handle(signed("open.json"))
    pipeline.handle(signed("open.json", body=b"[{not json"))
    assert pipeline.drain_once(wait_seconds=0) == 1
    state = inspector.state()
    assert state["requests"][1]["events"][0]["delivery"] == "delivered"
    (dead,) = state["dead_letters"]
    assert (dead["request_id"], dead["stage"], dead["reason"], dead["replayed"]) == (2, "translate", "body is not JSON (JSONDecodeError)", False)

    assert inspector.replay(dead["message_id"]) == {"replayed": dead["message_id"], "request_id": 3}
    with pytest.raises(LookupError):
        inspector.replay(dead["message_id"])  # once
    assert pipeline.drain_once(wait_seconds=0) == 1  # translated again at delivery: still not JSON
    state = inspector.state()
    replay = state["requests"][0]
    assert (replay["method"], replay["replay_of"], replay["verdict"]) == ("REPLAY", 2, "dead-lettered")
    assert [(d["request_id"], d["stage"], d["replayed"]) for d in state["dead_letters"]] == [(3, "translate", False), (2, "translate", True)]


def test_the_form_posts_a_signed_sample_and_refuses_other_files(inspector: Inspector) -> None:
    assert inspector.send("email/sendgrid", "open.json", None, sign=True) == {"status": 200, "body": '{"accepted": 1, "ignored": 0}'}
    assert inspector.send("email/sendgrid", "open.json", None, sign=False)["status"] == 401
    for source, name in (("email/sendgrid", "../../keys/local.env"), ("email/sendgrid", ".hidden"), ("nope/x", "open.json"), ("email/sendgrid", "missing.json")):
        with pytest.raises(LookupError):
            inspector.send(source, name, None, sign=True)
    routes = {r["source"]: r for r in inspector.routes()}
    assert routes["email/sendgrid"]["path"] == "/sendgrid" and "open.json" in routes["email/sendgrid"]["samples"]


@pytest.mark.parametrize("host,allowed", [("127.0.0.1:3000", True), ("localhost:3000", True), ("[::1]:3000", True), ("127.0.0.1", True),
                                          ("evil.example:3000", False), ("127.0.0.1.evil.example", False), ("", False)])
def test_only_requests_for_this_machine_reach_the_page(inspector: Inspector, host: str, allowed: bool) -> None:
    """DNS rebinding: another site's name pointed at 127.0.0.1 sends its own Host header."""
    assert inspector._host_allowed(host) is allowed


def test_a_big_batch_lists_a_hundred_events_and_counts_the_rest(inspector: Inspector) -> None:
    import json

    one = json.loads((EVENTS / "samples/email/sendgrid/open.json").read_text())[0]
    body = json.dumps([dict(one, sg_event_id=f"inspector-{i}") for i in range(250)]).encode()
    assert inspector.pipeline.handle(signed("open.json", body=body))["statusCode"] == 200
    (seen,) = inspector.state()["requests"]
    assert (len(seen["events"]), seen["more_events"], seen["verdict"]) == (100, 150, "queued")


def test_dead_letters_waiting_at_start_are_listed_and_replayable() -> None:
    from ciohooks.envelope import Envelope

    pipeline = LocalPipeline(Settings(local_keys(KEYS)), write=lambda line: None)
    waiting = Envelope(kind="request", source="email/sendgrid", received_at=datetime(2026, 11, 23, 12, tzinfo=UTC),
                       request={"method": "POST", "path": "/sendgrid", "headers": {}, "query": "", "body": "[]", "base64": False,
                                "received_at": "2026-11-23T12:00:00+00:00", "domain": None}).failed("translate", "unknown event type")
    message_id = pipeline.dead_letter_queue.put(waiting)
    inspector = Inspector(pipeline, KEYS, EVENTS / "samples").attach()
    (dead,) = inspector.state()["dead_letters"]
    assert (dead["message_id"], dead["request_id"], dead["stage"], dead["reason"], dead["at"]) == (message_id, None, "translate", "unknown event type", "before start")
    assert inspector.replay(message_id) == {"replayed": message_id, "request_id": None}
    assert pipeline.dead_letter_queue.receive(max_messages=10, wait_seconds=0) == []  # taken off, put back for delivery
    assert pipeline.drain_once(wait_seconds=0) == 1
