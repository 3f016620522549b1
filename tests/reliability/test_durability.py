"""Durability in production weather, each scenario with a ledger (issue 11).

Over real protocols: the local pipeline (the Lambda handlers' very objects) or ``ciohooks serve`` as
a subprocess, SQS and S3 on moto's server, the Customer.io stand-in. Every scenario prints one ledger
line (and adds it to ``.pytest_cache/durability-ledger.json``):

    sent            events in the webhooks posted (or messages queued directly, where said)
    acked           events in the webhooks answered 2xx
    delivered       acked events Customer.io has (distinct messageIds)
    in_dlq          dead letters left at the end
    replayed        dead letters replayed
    dlq_duplicates  events that were dead-lettered more than once
    lost            acked events neither delivered nor in the DLQ: must be 0

Time is compressed where a scenario spans hours: the deliverer's clock is moved forward (its age
arithmetic reads it) while SQS's visibility timeouts stay short and real (backoff base and cap 1 s).

Payloads: SendGrid's documented Event Webhook samples (events/samples/email/sendgrid/batch.json),
repeated with unique ``sg_event_id``s; Mandrill's event shapes as in events/samples/email/mandrill
(django-anymail's test events, after Mandrill's documented webhook format), repeated with unique
``_id``s and the opens/clicks history a busy message accumulates.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from ciohooks import cli, sources
from ciohooks.config import Settings
from ciohooks.customerio import MAX_BATCH_BYTES
from ciohooks.deliver import Deliverer
from ciohooks.envelope import Envelope
from ciohooks.ingest import translate
from ciohooks.local import LocalPipeline, local_keys
from ciohooks.queue import MAX_MESSAGE_BYTES, SqsQueue, pointer_of
from ciohooks.request import WebhookRequest
from ciohooks.sources.email.mandrill import form_body
from tests.support.pipeline import drain as support_drain
from tests.support.pipeline import pipeline_settings, served
from tests.support.serve import KEYS, ServeProcess, signed_post

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
SAMPLES = REPO / "events" / "samples" / "email"
SENDGRID_SAMPLES = [s for s in json.loads((SAMPLES / "sendgrid" / "batch.json").read_text()) if s["event"] in ("delivered", "open", "click", "bounce", "spamreport", "unsubscribe")]
LEDGERS = REPO / ".pytest_cache" / "durability-ledger.json"
SETTINGS = {
    **local_keys(KEYS),
    "CIOHOOKS_CUSTOMERIO_MAX_ATTEMPTS": "1",
    "CIOHOOKS_CUSTOMERIO_TIMEOUT_SECONDS": "2",
    "CIOHOOKS_DELIVERY_BACKOFF_BASE_SECONDS": "1",
    "CIOHOOKS_DELIVERY_BACKOFF_CAP_SECONDS": "1",
}


# ---- the ledger -----------------------------------------------------------------------------------


@dataclass
class Ledger:
    scenario: str
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    in_dlq: int = 0
    replayed: int = 0
    dlq_duplicates: int = 0
    lost: int = 0

    def settle(self, acked_ids: set[str], delivered_ids: set[str], dead_ids: list[str], in_dlq: int) -> None:
        self.acked, self.in_dlq = len(acked_ids), in_dlq
        self.delivered = len(acked_ids & delivered_ids)
        self.dlq_duplicates = len(dead_ids) - len(set(dead_ids))
        self.lost = len(acked_ids - delivered_ids - set(dead_ids))

    def report(self, capsys: pytest.CaptureFixture[str]) -> None:
        LEDGERS.parent.mkdir(exist_ok=True)
        previous = json.loads(LEDGERS.read_text()) if LEDGERS.exists() else {}
        LEDGERS.write_text(json.dumps({**previous, self.scenario: asdict(self)}, indent=2))
        with capsys.disabled():
            print(f"\n  ledger {self.scenario}: " + json.dumps({k: v for k, v in asdict(self).items() if k != "scenario"}))
        assert self.lost == 0 and self.dlq_duplicates == 0, self


# ---- payloads --------------------------------------------------------------------------------------


def sendgrid_request(tag: str, size: int) -> WebhookRequest:
    body = json.dumps([dict(SENDGRID_SAMPLES[i % len(SENDGRID_SAMPLES)], sg_event_id=f"{tag}-ev{i}") for i in range(size)]).encode()
    return WebhookRequest("POST", "/sendgrid", body, {"content-type": "application/json"})


def mandrill_events(count: int) -> list[dict[str, Any]]:
    """``count`` events of the three documented shapes of batch.form (send, hard_bounce, click), each
    for its own message, the clicks with the opens and clicks history Mandrill keeps in ``msg``. The
    sends are posted as ``delivered`` (same shape; ``send`` is ignored on purpose by the email
    policy: accepted by Mandrill, not yet delivered), so every one of the 1,000 becomes an event."""
    shapes = [e for e in _mandrill_sample() if "event" in e]
    events = []
    for n in range(count):
        event = json.loads(json.dumps(shapes[n % len(shapes)]))
        message_id = f"{n:030x}"
        event["_id"] = event["msg"]["_id"] = message_id
        event["ts"] += n
        if event["event"] == "send":
            event["event"] = "delivered"
        if event["event"] == "click":
            event["url"] = f"http://example.com/offers/{n}?utm_source=mandrill&utm_medium=email&utm_campaign=webhook-test"
            event["msg"]["opens"] = [{"ts": 1461095242 + k} for k in range(16)]
            event["msg"]["clicks"] = [{"ts": 1461095246 + k, "url": f"http://example.com/offers/{n}/{k}?utm_source=mandrill&utm_medium=email"} for k in range(10)]
        events.append(event)
    return events


def _mandrill_sample() -> list[dict[str, Any]]:
    from urllib.parse import parse_qsl

    return json.loads(dict(parse_qsl((SAMPLES / "mandrill" / "batch.form").read_text().strip()))["mandrill_events"])


def expected_ids(source_name: str, request: WebhookRequest) -> set[str]:
    source = sources.load(source_name)(Settings(SETTINGS))
    return {e.to_cio()["messageId"] for e in translate(source, request).events}


# ---- the pipeline on SQS + S3 (moto) -----------------------------------------------------------------


@pytest.fixture
def pipeline(sqs_queues, cio_standin, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_queues.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", sqs_queues.endpoint_url)
    with served(pipeline_settings(sqs_queues, cio_standin, **SETTINGS, CIOHOOKS_CLAIM_CHECK_BUCKET=sqs_queues.bucket)) as local:
        yield local


class SimulatedClock:
    """Real time plus an offset the test moves forward: the deliverer's idea of "now"."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def with_clock(pipeline: LocalPipeline, clock: SimulatedClock) -> None:
    old = pipeline.deliver_app.deliverer
    pipeline.deliver_app.deliverer = Deliverer(old.sink, old.dead_letter_queue, old.settings, delivery_queue=old.delivery_queue,
                                               claim_check=old.claim_check, clock=clock)


def post_acknowledged(pipeline, ledger: Ledger, request: WebhookRequest) -> set[str]:
    """Post a SendGrid webhook, counted as sent in the ledger; the messageIds it must become (200)."""
    ids = expected_ids("email/sendgrid", request)
    ledger.sent += len(ids)
    assert signed_post(pipeline.url, "email/sendgrid", request).status_code == 200
    return ids


def drain(pipeline, sqs_queues, until, timeout: float = 90.0) -> None:
    support_drain(pipeline, sqs_queues, until, timeout)


def drain_visible(pipeline) -> int:
    """Deliver every message visible now; returns how many were handled."""
    handled = 0
    for _ in range(50):
        got = pipeline.drain_once(wait_seconds=0)
        if not got:
            break
        handled += got
    return handled


def dead_letters(sqs_queues) -> list[Envelope]:
    """The dead letters (pointers resolved), looked at and made visible again at once."""
    queue = SqsQueue(sqs_queues.dlq_url, sqs_queues.client)
    seen: dict[str, Any] = {}
    for _ in range(20):
        batch = [m for m in queue.receive(10, 0, visibility_timeout=30) if m.message_id not in seen]
        if not batch:
            break
        seen.update((m.message_id, m) for m in batch)
    for message in seen.values():
        queue.client.change_message_visibility(QueueUrl=sqs_queues.dlq_url, ReceiptHandle=message.receipt, VisibilityTimeout=0)
    return [Envelope.from_json(m.body) for m in seen.values()]


def replay_all(sqs_queues) -> int:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["dlq", "replay", "--queue-url", sqs_queues.dlq_url, "--to", sqs_queues.delivery_url, "--endpoint-url", sqs_queues.endpoint_url])
    return json.loads(out.getvalue().strip().splitlines()[-1])["replayed"]


def delivered_ids(cio_standin) -> set[str]:
    return {e["messageId"] for e in cio_standin.events}


# ---- 1. a 24-hour Customer.io outage ---------------------------------------------------------------


@pytest.mark.sqs_queues(max_receive_count=1000, visibility_timeout=5)
def test_a_24_hour_outage_only_delays(pipeline, sqs_queues, cio_standin, capsys):
    clock, ledger = SimulatedClock(), Ledger("outage-24h")
    with_clock(pipeline, clock)
    acked: set[str] = set()
    cio_standin.fail_next(100_000, status=503)
    for n in range(20):
        acked |= post_acknowledged(pipeline, ledger, sendgrid_request(f"outage{n}", 5))

    receives = 0
    for hour in range(1, 25):  # one pass an hour: every message is received and backed off again
        clock.offset = hour * 3600
        time.sleep(1.1)  # the 1-second backoff (real) of the previous pass
        receives += drain_visible(pipeline)
    assert sqs_queues.count("dlq") == 0 and cio_standin.events == []
    assert receives >= 20 * 20  # tried all day, nothing given up

    cio_standin.clear_faults()  # Customer.io is back after 24 hours
    clock.offset += 1800
    drain(pipeline, sqs_queues, lambda: acked <= delivered_ids(cio_standin) and sqs_queues.count("delivery", in_flight=True) == 0)
    assert sqs_queues.count("dlq") == 0
    ledger.settle(acked, delivered_ids(cio_standin), [], sqs_queues.count("dlq"))
    ledger.report(capsys)


@pytest.mark.sqs_queues(max_receive_count=1000, visibility_timeout=5)
def test_past_the_horizon_the_events_wait_in_the_dlq_and_replay_delivers_them(pipeline, sqs_queues, cio_standin, capsys):
    clock, ledger = SimulatedClock(), Ledger("outage-past-horizon")
    with_clock(pipeline, clock)
    cio_standin.fail_next(100_000, status=503)
    request = sendgrid_request("horizon", 4)
    acked = expected_ids("email/sendgrid", request)
    ledger.sent = len(acked)
    assert signed_post(pipeline.url, "email/sendgrid", request).status_code == 200
    for hours in (24, 48, 71, 73):
        clock.offset = hours * 3600
        time.sleep(1.1)
        drain_visible(pipeline)
        assert sqs_queues.count("dlq") == (1 if hours > 72 else 0), hours
    (letter,) = dead_letters(sqs_queues)
    assert letter.failure.stage == "deliver"
    assert letter.failure.error == "not delivered within the retry horizon of 72 hours: Customer.io answered 503: stand-in injected fault: HTTP 503"

    cio_standin.clear_faults()
    ledger.replayed = replay_all(sqs_queues)
    clock.offset = 0  # a replayed message's horizon counts from the replay
    drain(pipeline, sqs_queues, lambda: acked <= delivered_ids(cio_standin))
    ledger.settle(acked, delivered_ids(cio_standin), [e["messageId"] for e in letter.events], sqs_queues.count("dlq"))
    assert ledger.replayed == 1 and ledger.in_dlq == 0
    ledger.report(capsys)


# ---- 2. bodies over one SQS message ----------------------------------------------------------------


def test_a_mandrill_batch_of_1000_events_over_1_mb(pipeline, sqs_queues, cio_standin, capsys):
    ledger = Ledger("mandrill-1000-events")
    body = form_body(mandrill_events(1000))
    assert len(body) > 1_048_576  # more than one SQS message holds
    request = WebhookRequest("POST", "/mandrill", body, {"content-type": "application/x-www-form-urlencoded"})
    acked = expected_ids("email/mandrill", request)
    ledger.sent = len(acked)
    assert len(acked) == 1000
    response = signed_post(pipeline.url, "email/mandrill", request)
    assert response.status_code == 200, response.text
    assert_stored_within_sqs_limits(sqs_queues)
    drain(pipeline, sqs_queues, lambda: acked <= delivered_ids(cio_standin) and sqs_queues.count("delivery", in_flight=True) == 0)
    assert cio_standin.request_count <= 4 and cio_standin.duplicates() == {}
    ledger.settle(acked, delivered_ids(cio_standin), [], sqs_queues.count("dlq"))
    ledger.report(capsys)


def test_a_994021_byte_sendgrid_post_is_stored_and_delivered(pipeline, sqs_queues, cio_standin, capsys):
    ledger = Ledger("sendgrid-994021-bytes")
    events, size = [], 2
    while size < 994_021 - 400:
        event = dict(SENDGRID_SAMPLES[len(events) % len(SENDGRID_SAMPLES)], sg_event_id=f"big-ev{len(events)}")
        size += len(json.dumps(event)) + 2
        events.append(event)
    body = json.dumps(events).encode()
    body = body[:-1] + b" " * (994_021 - len(body)) + b"]"  # JSON whitespace up to the exact size
    assert len(body) == 994_021
    request = WebhookRequest("POST", "/sendgrid", body, {"content-type": "application/json"})
    acked = expected_ids("email/sendgrid", request)
    ledger.sent = len(acked)
    response = signed_post(pipeline.url, "email/sendgrid", request)
    assert response.status_code == 200, response.text
    assert_stored_within_sqs_limits(sqs_queues)
    drain(pipeline, sqs_queues, lambda: acked <= delivered_ids(cio_standin) and sqs_queues.count("delivery", in_flight=True) == 0)
    ledger.settle(acked, delivered_ids(cio_standin), [], sqs_queues.count("dlq"))
    ledger.report(capsys)


def assert_stored_within_sqs_limits(sqs_queues) -> None:
    """Every queued message fits SQS; each envelope over 1 MiB went whole to S3 (a pointer queued)."""
    raw = sqs_queues.receive_all("delivery", delete=False)
    sqs_queues.release("delivery", [m["ReceiptHandle"] for m in raw])
    assert raw
    for message in raw:
        assert len(message["Body"].encode()) <= MAX_MESSAGE_BYTES
        target = pointer_of(message["Body"])
        if target is not None:
            stored = sqs_queues.s3.get_object(Bucket=target[0], Key=target[1])["Body"].read()
            assert len(stored) > MAX_MESSAGE_BYTES - 1024 and Envelope.from_json(stored).source.startswith("email/")


def test_an_envelope_over_1_mib_travels_by_claim_check(pipeline, sqs_queues, cio_standin, capsys):
    """What ingest queues for the Mandrill batch once it carries the raw request too (envelope v2):
    well over 1 MiB, so it goes to S3 whole and SQS carries the extended client's pointer."""
    ledger = Ledger("claim-check-envelope")
    body = form_body(mandrill_events(1000))
    request = WebhookRequest("POST", "/mandrill", body, {"content-type": "application/x-www-form-urlencoded"})
    source = sources.load("email/mandrill")(Settings(SETTINGS))
    events = [e.to_cio() for e in translate(source, request).events]
    envelope = Envelope(kind="events", source="email/mandrill", received_at=request.received_at, events=events, request=request.to_dict())
    assert len(envelope.to_json()) > 1_500_000
    pipeline.delivery_queue.put(envelope)
    (message,) = sqs_queues.receive_all("delivery", delete=False)
    sqs_queues.release("delivery", [message["ReceiptHandle"]])
    assert pointer_of(message["Body"]) == (sqs_queues.bucket, sqs_queues.stored_bodies()[0])
    assert message["MessageAttributes"]["ExtendedPayloadSize"]["StringValue"] == str(len(envelope.to_json().encode()))
    acked = {e["messageId"] for e in events}
    ledger.sent = len(acked)
    drain(pipeline, sqs_queues, lambda: acked <= delivered_ids(cio_standin) and sqs_queues.count("delivery", in_flight=True) == 0)
    ledger.settle(acked, delivered_ids(cio_standin), [], sqs_queues.count("dlq"))
    ledger.report(capsys)


# ---- 3. one poison record among 100 ------------------------------------------------------------------


@pytest.mark.sqs_queues(max_receive_count=1000, visibility_timeout=30)
def test_a_poison_record_among_100_fails_alone(pipeline, sqs_queues, cio_standin, capsys):
    ledger = Ledger("poison-among-100")
    acked: set[str] = set()
    for n in range(99):
        acked |= post_acknowledged(pipeline, ledger, sendgrid_request(f"poison{n}", 1))
        if n == 49:  # queued directly: a stored request whose received_at is not a date
            stored = sendgrid_request("poison-x", 1).to_dict()
            poison = Envelope(kind="request", source="email/sendgrid", received_at="2026-12-01T00:00:00Z", request={**stored, "received_at": "yesterday"})
            sqs_queues.send(poison.to_json())
    drain(pipeline, sqs_queues, lambda: acked <= delivered_ids(cio_standin) and sqs_queues.count("dlq") == 1)
    # The poison fails alone: no code can read it, so retrying cannot help; it is kept whole in the
    # DLQ with the reason (a replay with a fixed reader heals it), and the other 99 are delivered.
    assert sqs_queues.count("delivery", in_flight=True) == 0
    assert cio_standin.request_count <= 11  # one request per batch of 10, the poison's batch included
    (kept,) = sqs_queues.bodies("dlq", delete=False)
    assert kept["request"]["received_at"] == "yesterday" and kept["failure"]["error"] == "stored request unreadable (ValueError)"
    ledger.settle(acked, delivered_ids(cio_standin), [], sqs_queues.count("dlq"))
    ledger.report(capsys)


@pytest.mark.parametrize("named", [True, False], ids=["errors-name-events", "bisection-fallback"])
def test_five_percent_refused_events_cost_at_most_twice_the_clean_requests(named, pipeline, sqs_queues, cio_standin, capsys):
    def run(tag: str) -> tuple[set[str], int]:
        before, ids = cio_standin.request_count, set()
        for n in range(40):
            request = sendgrid_request(f"{tag}{n}", 25)
            ids |= expected_ids("email/sendgrid", request)
            assert signed_post(pipeline.url, "email/sendgrid", request).status_code == 200
        drain(pipeline, sqs_queues, lambda: sqs_queues.count("delivery", in_flight=True) == 0)
        return ids, cio_standin.request_count - before

    clean_ids, clean = run("clean")
    cio_standin.name_events = named  # False: the 400's errors say what failed but not which event
    cio_standin.reject_rate(0.05, salt="durability")
    poisoned_ids, poisoned = run("poisoned")
    letters = dead_letters(sqs_queues)
    dead = [e["messageId"] for letter in letters for e in letter.events]
    assert 0.02 * len(poisoned_ids) < len(dead) < 0.09 * len(poisoned_ids)
    ledger = Ledger("five-percent-refused" if named else "five-percent-refused-bisected")
    ledger.sent = len(clean_ids | poisoned_ids)
    ledger.settle(clean_ids | poisoned_ids, delivered_ids(cio_standin), dead, len(letters))
    with capsys.disabled():
        print(f"\n  customer.io requests: clean {clean}, with 5 % refused {poisoned} ({poisoned / clean:.2f}x){'' if named else ' by bisection'}")
    if named:
        assert poisoned <= 2 * clean + 1
    else:  # bisection: about 2 log2(events per request) requests per refused event, still bounded
        assert poisoned <= clean + 2 * len(dead) * 10
    ledger.report(capsys)


# ---- 4. refused and unsent events in one message -------------------------------------------------------


@pytest.mark.sqs_queues(max_receive_count=1000, visibility_timeout=30)
def test_refused_and_unsent_events_of_one_message_are_dead_lettered_once(pipeline, sqs_queues, cio_standin, capsys):
    ledger = Ledger("refused-and-unsent")
    request = sendgrid_request("split", 1500)
    source = sources.load("email/sendgrid")(Settings(SETTINGS))
    events = [e.to_cio() for e in translate(source, request).events]
    packed = sum(len(json.dumps(e, separators=(",", ":"))) + 1 for e in events)
    assert packed > MAX_BATCH_BYTES  # at least two Customer.io requests for this one message
    acked = {e["messageId"] for e in events}
    ledger.sent = ledger.acked = len(acked)
    # The envelope as ingest builds it (with the raw request), queued directly.
    SqsQueue(sqs_queues.delivery_url, sqs_queues.client, claim_check=pipeline.claim_check).put(
        Envelope(kind="events", source="email/sendgrid", received_at=request.received_at, events=events, request=request.to_dict()))

    refused = events[3]["messageId"]
    cio_standin.reject_message_ids({refused})
    cio_standin.pass_next(2)  # pack 1: the 400 naming the refused event, then the rest accepted
    cio_standin.fail_next(1, status=503)  # pack 2: Customer.io fails
    assert pipeline.drain_once(wait_seconds=0) == 1
    letters = dead_letters(sqs_queues)
    assert [[e["messageId"] for e in letter.events] for letter in letters] == [[refused]]
    assert sorted(letters[0].exclude_ids) == sorted(acked - {refused})
    drain(pipeline, sqs_queues, lambda: acked - {refused} <= delivered_ids(cio_standin) and sqs_queues.count("delivery", in_flight=True) == 0)
    dead = [e["messageId"] for letter in dead_letters(sqs_queues) for e in letter.events]
    assert dead == [refused]  # the remainder was delivered without dead-lettering anything again

    # The mapping (here: the rule) is fixed; the replay re-translates the request and sends only the refused event.
    cio_standin.clear_rules()
    ledger.replayed = replay_all(sqs_queues)
    drain(pipeline, sqs_queues, lambda: refused in delivered_ids(cio_standin) and sqs_queues.count("delivery", in_flight=True) == 0)
    counts = cio_standin.message_id_counts()
    assert counts[refused] == 1 and max(counts.values()) == 1  # nothing else was sent again
    ledger.settle(acked, delivered_ids(cio_standin), dead, sqs_queues.count("dlq"))
    ledger.report(capsys)


# ---- 5. kill -9 of serve mid-traffic ----------------------------------------------------------------


@pytest.fixture(params=["embedded", "sqs"])
def serve_settings(request, cio_standin, tmp_path, make_sqs_queues):
    settings = {
        **SETTINGS,
        "CIOHOOKS_CUSTOMERIO_API_KEY": cio_standin.api_key,
        "CIOHOOKS_CUSTOMERIO_BASE_URL": cio_standin.base_url,
        "CIOHOOKS_LOCAL_STATE_DIR": str(tmp_path / "state"),
        "CIOHOOKS_LOCAL_VISIBILITY_SECONDS": "3",
    }
    aws: dict[str, str] = {}
    if request.param == "sqs":
        queues = make_sqs_queues(max_receive_count=1000, visibility_timeout=3)
        settings.update({"CIOHOOKS_DELIVERY_QUEUE_URL": queues.delivery_url, "CIOHOOKS_DEAD_LETTER_QUEUE_URL": queues.dlq_url,
                         "CIOHOOKS_CLAIM_CHECK_BUCKET": queues.bucket})
        aws = queues.env()
    return request.param, settings, aws, tmp_path


def test_kill_9_of_serve_mid_traffic_loses_nothing_acknowledged(serve_settings, cio_standin, capsys):
    mode, settings, aws, cwd = serve_settings
    ledger = Ledger(f"serve-kill-9-{mode}")
    cio_standin.hang_next(15, seconds=0.3, then="process")  # a slow Customer.io: a backlog builds up
    serve = ServeProcess(settings, cwd, aws).start()
    acked: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def traffic(worker: int) -> None:
        n = 0
        while not stop.is_set():
            request = sendgrid_request(f"kill{worker}-{n}", 5)
            ids = expected_ids("email/sendgrid", request)
            with lock:
                ledger.sent += len(ids)
            try:
                status = signed_post(serve.url, "email/sendgrid", request, timeout=5).status_code
            except Exception:  # the server died under this request: not acknowledged
                status = None
            if status == 200:
                with lock:
                    acked.update(ids)
            n += 1

    threads = [threading.Thread(target=traffic, args=(w,), daemon=True) for w in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    serve.kill9()  # mid-traffic: requests in flight, a backlog in the queue
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    at_kill = len(delivered_ids(cio_standin) & acked)
    assert at_kill < len(acked), "nothing was left to deliver at the kill: the scenario proves nothing"

    restarted = ServeProcess(settings, cwd, aws).start()
    try:
        wait = time.monotonic() + 90
        while not acked <= delivered_ids(cio_standin) and time.monotonic() < wait:
            time.sleep(0.25)
        log = restarted.log()
    finally:
        restarted.stop()
    assert "Traceback" not in log, log
    with capsys.disabled():
        print(f"\n  serve ({mode}) killed with {len(acked)} events acknowledged, {at_kill} delivered before the kill")
    ledger.settle(acked, delivered_ids(cio_standin), [], 0)
    ledger.report(capsys)
