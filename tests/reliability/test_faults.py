"""Fault injection with a ledger: nothing answered 2xx is lost, nothing answered 5xx is half-queued.

The local pipeline runs with the SQS emulator and the Customer.io stand-in while the stand-in
answers 429 with Retry-After, 500/503, hangs past the client timeout, resets connections and
refuses single events with 400; while SQS is unreachable during ingest; while the deliver step
crashes mid-batch. Then the faults stop, the queue drains, the DLQ is replayed, and the ledger checks:

- every webhook answered 2xx is delivered (or was dead-lettered and is delivered after the replay);
- webhooks answered 5xx left nothing behind (checked before the provider's retry), and their retry
  is delivered;
- duplicates at Customer.io only ever share a messageId, with identical content;
- lost = 0. The figures are printed (and written to .pytest_cache/reliability-figures.json).

Payloads: SendGrid's documented samples (events/samples/email/sendgrid), repeated with unique
sg_event_ids so every webhook is distinguishable, plus one real sample of every other source.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from ciohooks import cli, sources
from ciohooks.ingest import translate
from ciohooks.local import local_keys, signing_key
from ciohooks.queue import SqsQueue
from ciohooks.samples import sample_files, sample_request
from tests.support.pipeline import pipeline_settings, served

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
EVENTS = REPO / "events"
SENDGRID_SAMPLES = [s for s in json.loads((EVENTS / "samples/email/sendgrid/batch.json").read_text()) if s["event"] in ("delivered", "open", "click", "bounce", "spamreport", "unsubscribe")]
FIGURES = REPO / ".pytest_cache" / "reliability-figures.json"


class Ledger:
    def __init__(self) -> None:
        self.accepted: dict[str, set[str]] = {}  # webhook -> the messageIds it must deliver
        self.refused: dict[str, set[str]] = {}  # answered 5xx: must have left nothing behind
        self.faults: Counter[str] = Counter()

    def expected(self) -> set[str]:
        return set().union(*self.accepted.values()) if self.accepted else set()


@pytest.fixture
def pipeline(sqs_queues, cio_standin, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_queues.endpoint_url)
    settings = pipeline_settings(sqs_queues, cio_standin, **{
        **local_keys(EVENTS / "keys"),
        "CIOHOOKS_CUSTOMERIO_MAX_ATTEMPTS": "3",
        "CIOHOOKS_CUSTOMERIO_BACKOFF_SECONDS": "0.05",
        "CIOHOOKS_CUSTOMERIO_TIMEOUT_SECONDS": "1",
        # Seconds, not minutes, between the tries of a message the faults held back.
        "CIOHOOKS_DELIVERY_BACKOFF_BASE_SECONDS": "1",
        "CIOHOOKS_DELIVERY_BACKOFF_CAP_SECONDS": "1",
    })
    with served(settings) as local:
        local.settings_for_translate = settings
        yield local


def sendgrid_webhook(n: int, size: int = 10) -> bytes:
    return json.dumps([dict(SENDGRID_SAMPLES[i % len(SENDGRID_SAMPLES)], sg_event_id=f"wh{n}-ev{i}") for i in range(size)]).encode()


def post(pipeline, source_name: str, request) -> int:
    source = sources.load(source_name)
    from dataclasses import replace
    from datetime import UTC, datetime

    request = replace(request, received_at=datetime.now(UTC))
    if (key := signing_key(source, EVENTS / "keys")) is not None:
        request = source.sign(request, key)
    if source.transport == "eventbridge":  # no URL: the ingest function is handed the event itself
        from ciohooks.handlers import StorageFailed, handle_eventbridge_event

        try:
            return handle_eventbridge_event(pipeline.ingests[source.family], json.loads(request.body))["status"]
        except StorageFailed:  # Lambda would retry the invocation, as a provider retries a 5xx
            return 503
    url = f"{pipeline.url}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
    return requests.request(request.method, url, data=request.body, headers=dict(request.headers), timeout=15).status_code


def expected_ids(pipeline, source_name: str, request) -> set[str]:
    source = sources.load(source_name)(pipeline.settings_for_translate)
    return {e.to_cio()["messageId"] for e in translate(source, request).events}


def every_sources_sample():
    for name in sources.names():
        source = sources.load(name)
        for sample in sample_files(EVENTS / "samples" / name):
            yield name, sample_request(source, sample)
            break


def drain(pipeline, sqs_queues, until, timeout=60.0):
    stop = time.monotonic() + timeout
    while time.monotonic() < stop:
        if until():
            return
        try:
            if not pipeline.drain_once(wait_seconds=0):
                time.sleep(0.2)
        except RuntimeError:  # the injected deliver crash: the batch stays in SQS, as on Lambda
            time.sleep(0.2)
    pytest.fail(f"not drained in {timeout}s: delivery={sqs_queues.count('delivery', in_flight=True)} dlq={sqs_queues.count('dlq')}")


def replay_all(sqs_queues) -> int:
    total = 0
    for _ in range(20):
        if sqs_queues.count("dlq", in_flight=True) == 0:
            break
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            cli.main(["dlq", "replay", "--queue-url", sqs_queues.dlq_url, "--to", sqs_queues.delivery_url, "--endpoint-url", sqs_queues.endpoint_url])
        total += json.loads(out.getvalue())["replayed"]
        time.sleep(0.3)
    return total


@pytest.mark.sqs_queues(max_receive_count=1000, visibility_timeout=1)
def test_no_loss_under_faults(pipeline, sqs_queues, cio_standin, capsys):
    rng = random.Random(20261123)
    ledger = Ledger()
    sink = pipeline.deliver_app.deliverer.sink

    # Phase 1: the stand-in misbehaves in every way it knows while webhooks arrive.
    cio_standin.fail_next(3, status=429, retry_after=1)
    cio_standin.fail_next(2, status=503)
    cio_standin.reset_next(2)
    cio_standin.hang_next(1, seconds=2.0, then="process")  # answered after the client gave up: a duplicate
    cio_standin.fail_next(1, status=500)
    ledger.faults.update({"429": 3, "503": 2, "reset": 2, "hang": 1, "500": 1})
    cio_standin.reject_rate(0.05, salt="faults")
    webhooks = [(f"sg-{n}", "email/sendgrid", sendgrid_webhook(n, size=rng.randint(1, 20))) for n in range(30)]
    from ciohooks.request import WebhookRequest

    for key, name, body in webhooks:
        request = WebhookRequest("POST", "/sendgrid", body, {"content-type": "application/json"})
        status = post(pipeline, name, request)
        assert status == 200
        ledger.accepted[key] = expected_ids(pipeline, name, request)
    for name, request in every_sources_sample():
        assert 200 <= post(pipeline, name, request) < 300, name
        ledger.accepted[f"sample-{name}"] = expected_ids(pipeline, name, request)

    # Phase 2: SQS unreachable during ingest: the provider is told to retry, nothing is half-queued.
    ingest = pipeline.ingests["email"]
    reachable = ingest.delivery_queue
    dead_client = boto3.client("sqs", endpoint_url="http://127.0.0.1:9", config=Config(connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 1}))
    ingest.delivery_queue = SqsQueue(sqs_queues.delivery_url, client=dead_client)
    outage = [(f"outage-{n}", sendgrid_webhook(1000 + n, size=5)) for n in range(5)]
    for key, body in outage:
        request = WebhookRequest("POST", "/sendgrid", body, {"content-type": "application/json"})
        assert post(pipeline, "email/sendgrid", request) == 503
        ledger.refused[key] = expected_ids(pipeline, "email/sendgrid", request)
        ledger.faults["sqs-unreachable"] += 1
    ingest.delivery_queue = reachable

    # Phase 3: the deliver step crashes mid-batch (after its first Customer.io request) twice.
    crashes = {"left": 2}

    class CrashingSink:
        def send(self, events, deadline=None):
            result = sink.send(events[: max(1, len(events) // 2)], deadline)
            if crashes["left"] > 0:
                crashes["left"] -= 1
                ledger.faults["deliver-crash"] += 1
                raise RuntimeError("injected crash mid-batch")
            rest = sink.send(events[max(1, len(events) // 2):], deadline)
            result.delivered += rest.delivered
            result.rejected += rest.rejected
            result.unsent += rest.unsent
            result.requests += rest.requests
            return result

    pipeline.deliver_app.deliverer.sink = CrashingSink()
    drain(pipeline, sqs_queues, lambda: sqs_queues.count("delivery", in_flight=True) == 0)
    pipeline.deliver_app.deliverer.sink = sink

    delivered_before_replay = {e["messageId"] for e in cio_standin.events}
    refused_ids = set().union(*ledger.refused.values())
    assert not (refused_ids & delivered_before_replay), "a webhook answered 5xx was (half-)queued"
    dead_lettered = sqs_queues.count("dlq")

    # Phase 4: the faults are gone. The providers retry what got 5xx; the operator replays the DLQ.
    cio_standin.clear_rules()
    cio_standin.clear_faults()
    for key, body in outage:
        request = WebhookRequest("POST", "/sendgrid", body, {"content-type": "application/json"})
        assert post(pipeline, "email/sendgrid", request) == 200
        ledger.accepted[key] = ledger.refused[key]
    replayed = replay_all(sqs_queues)
    expected = ledger.expected()
    drain(pipeline, sqs_queues, lambda: expected <= {e["messageId"] for e in cio_standin.events} and sqs_queues.count("delivery", in_flight=True) == 0)

    delivered = {e["messageId"] for e in cio_standin.events}
    lost = expected - delivered
    copies: dict[str, list[dict]] = {}
    for event in cio_standin.events:
        copies.setdefault(event["messageId"], []).append(event)
    assert all(all(c == cs[0] for c in cs) for cs in copies.values()), "two different events share a messageId"
    assert not lost, f"lost {len(lost)} events"
    assert sqs_queues.count("dlq") == 0

    figures = {
        "webhooks": len(ledger.accepted),
        "webhooks_answered_5xx_then_retried": len(ledger.refused),
        "events": len(expected),
        "faults_injected": dict(ledger.faults),
        "dead_lettered_messages": dead_lettered,
        "replayed_messages": replayed,
        "delivered_unique": len(delivered),
        "delivered_copies": len(cio_standin.events),
        "customerio_requests": cio_standin.request_count,
        "lost": len(lost),
    }
    FIGURES.parent.mkdir(exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2))
    with capsys.disabled():
        print("\n  reliability: " + json.dumps(figures))
