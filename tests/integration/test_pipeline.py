"""The no-loss path, end to end over real protocols.

A signed SendGrid batch goes over HTTP into ``ciohooks serve``'s server (the same resolver as the
Lambda function), into SQS (moto's server, over HTTP with boto3), through the deliver handler, to
the Customer.io stand-in (which enforces the seed specs, Basic auth and strict mode). Faults are
injected at the stand-in; the DLQ and ``ciohooks dlq replay`` close the loop.

Samples: SendGrid's documented Event Webhook examples (events/samples/email/sendgrid/README.md).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest
import requests

from ciohooks import cli
from ciohooks.envelope import Envelope
from ciohooks.local import LocalPipeline
from tests.support.pipeline import drain, pipeline_settings, served
from tests.support.signers import new_sendgrid_keypair, sign_sendgrid

pytestmark = pytest.mark.integration

BATCH = (Path(__file__).parents[2] / "events" / "samples" / "email" / "sendgrid" / "batch.json").read_bytes()
DELIVERABLE = 7  # of the 11 samples; processed, deferred, dropped and group_resubscribe are ignored
PRIVATE_KEY, PUBLIC_KEY = new_sendgrid_keypair()


@pytest.fixture
def make_pipeline(sqs_queues, cio_standin, monkeypatch):
    """``ciohooks serve`` wired to the SQS emulator and the stand-in, on a free loopback port."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_queues.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", sqs_queues.endpoint_url)
    with contextlib.ExitStack() as running:

        def make(**overrides: str) -> LocalPipeline:
            settings = pipeline_settings(sqs_queues, cio_standin, **{
                "CIOHOOKS_CLAIM_CHECK_BUCKET": sqs_queues.bucket,
                "CIOHOOKS_CUSTOMERIO_MAX_ATTEMPTS": "2",
                "CIOHOOKS_CUSTOMERIO_BACKOFF_SECONDS": "0.01",
                "CIOHOOKS_CUSTOMERIO_TIMEOUT_SECONDS": "2",
                "CIOHOOKS_SENDGRID_VERIFICATION_KEY": PUBLIC_KEY,
                **{f"CIOHOOKS_{name}": value for name, value in overrides.items()},
            })
            return running.enter_context(served(settings))

        yield make


@pytest.fixture
def pipeline(make_pipeline):
    return make_pipeline()


def post_signed(pipeline, body: bytes = BATCH, headers: dict | None = None) -> requests.Response:
    signed = {"Content-Type": "application/json", **sign_sendgrid(PRIVATE_KEY, body), **(headers or {})}
    return requests.post(f"{pipeline.url}/sendgrid", data=body, headers=signed, timeout=10)


def replay(sqs_queues, expected: int = 1, timeout: float = 10.0) -> None:
    """``ciohooks dlq replay`` until ``expected`` messages went back (a message the test just looked
    at stays invisible for the visibility timeout, as it would for an operator)."""
    import contextlib
    import io

    replayed, stop = 0, time.monotonic() + timeout
    while replayed < expected and time.monotonic() < stop:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(["dlq", "replay", "--queue-url", sqs_queues.dlq_url, "--to", sqs_queues.delivery_url, "--endpoint-url", sqs_queues.endpoint_url])
        assert code == 0
        replayed += json.loads(out.getvalue())["replayed"]
        if replayed < expected:
            time.sleep(0.5)
    assert replayed == expected


def test_signed_batch_reaches_customerio_as_valid_events_once_each(pipeline, sqs_queues, cio_standin):
    response = post_signed(pipeline)
    assert response.status_code == 200 and response.json() == {"accepted": DELIVERABLE, "ignored": 4}
    drain(pipeline, sqs_queues, lambda: len(cio_standin.events) >= DELIVERABLE and sqs_queues.count("delivery", in_flight=True) == 0)
    assert len(cio_standin.events) == DELIVERABLE and cio_standin.duplicates() == {}
    assert cio_standin.request_count == 1  # one /v1/batch for the whole webhook
    assert sorted(e["event"] for e in cio_standin.events) == sorted([
        "Email Delivered", "Email Bounced", "Email Opened", "Email Link Clicked",
        "Email Marked as Spam", "Email Unsubscribed", "Email Unsubscribed",
    ])
    assert sqs_queues.count("dlq") == 0


def test_forged_signature_is_refused_and_nothing_is_queued(pipeline, sqs_queues):
    headers = sign_sendgrid(PRIVATE_KEY, BATCH)
    forged = BATCH.replace(b"example@test.com", b"mallory@evil.test")
    response = requests.post(f"{pipeline.url}/sendgrid", data=forged, headers={"Content-Type": "application/json", **headers}, timeout=10)
    assert response.status_code == 401
    assert sqs_queues.count("delivery", in_flight=True) == 0 and sqs_queues.count("dlq") == 0


@pytest.mark.sqs_queues(max_receive_count=1000, visibility_timeout=1)
def test_an_outage_past_the_retry_horizon_ends_in_the_dlq_and_a_replay_delivers_it(make_pipeline, sqs_queues, cio_standin):
    # A 3.6-second horizon with 1-second backoffs: the same decisions as 72 hours of 30-minute ones.
    pipeline = make_pipeline(DELIVERY_RETRY_HORIZON_HOURS="0.001", DELIVERY_BACKOFF_BASE_SECONDS="1", DELIVERY_BACKOFF_CAP_SECONDS="1")
    cio_standin.fail_next(1000, status=503)
    assert post_signed(pipeline).status_code == 200
    # Every receive fails and is backed off; past the horizon deliver moves the events to the DLQ.
    drain(pipeline, sqs_queues, lambda: sqs_queues.count("dlq") == 1)
    assert cio_standin.events == [] and sqs_queues.count("delivery", in_flight=True) == 0
    (letter,) = peek_dlq(sqs_queues)
    assert letter.failure.stage == "deliver" and letter.failure.error.startswith("not delivered within the retry horizon of 3.6 seconds")

    cio_standin.clear_faults()
    replay(sqs_queues)
    assert sqs_queues.count("dlq") == 0
    drain(pipeline, sqs_queues, lambda: len(cio_standin.events) >= DELIVERABLE)
    assert len({e["messageId"] for e in cio_standin.events}) == DELIVERABLE and cio_standin.duplicates() == {}


def test_a_refused_event_is_dead_lettered_alone_and_replays_after_the_fix(pipeline, sqs_queues, cio_standin):
    opened = json.loads(cli_translate_line("Email Opened"))["messageId"]
    cio_standin.reject_message_ids({opened})
    assert post_signed(pipeline).status_code == 200
    drain(pipeline, sqs_queues, lambda: sqs_queues.count("dlq") == 1 and len(cio_standin.events) >= DELIVERABLE - 1)
    assert opened not in {e["messageId"] for e in cio_standin.events}
    (envelope,) = peek_dlq(sqs_queues)
    assert [e["messageId"] for e in envelope.events] == [opened]
    assert envelope.failure.stage == "deliver" and "400" in envelope.failure.error
    assert "@" not in envelope.failure.error  # the stand-in's text carries no address, and we add none

    cio_standin.clear_rules()
    replay(sqs_queues)
    drain(pipeline, sqs_queues, lambda: len(cio_standin.events) >= DELIVERABLE)
    assert len({e["messageId"] for e in cio_standin.events}) == DELIVERABLE


def test_provider_retries_duplicate_only_under_the_same_message_id(pipeline, sqs_queues, cio_standin):
    assert post_signed(pipeline).status_code == 200
    assert post_signed(pipeline).status_code == 200  # SendGrid retried the same batch
    drain(pipeline, sqs_queues, lambda: len(cio_standin.events) >= 2 * DELIVERABLE)
    counts = cio_standin.message_id_counts()
    assert len(counts) == DELIVERABLE and set(counts.values()) == {2}
    by_id: dict[str, list[dict]] = {}
    for event in cio_standin.events:
        by_id.setdefault(event["messageId"], []).append(event)
    assert all(a == b for a, b in by_id.values())  # the copies are the same event, byte for byte


def test_untranslatable_request_is_kept_whole_in_the_dlq(pipeline, sqs_queues):
    body = b'[{"email":"jane@example.com","timestamp":1513299569}]'  # no event type: the whole batch fails
    assert post_signed(pipeline, body, {"Authorization": "Basic c2VjcmV0"}).status_code == 200
    (envelope,) = peek_dlq(sqs_queues)
    assert envelope.kind == "request" and envelope.failure.stage == "translate"
    assert envelope.request["body"] == body.decode() and "authorization" not in envelope.request["headers"]
    assert "jane@example.com" not in envelope.failure.error
    assert sqs_queues.count("delivery", in_flight=True) == 0


def test_a_replayed_request_is_translated_again_with_the_mapping_of_the_day(make_pipeline, sqs_queues, cio_standin, monkeypatch):
    # Monday: a mapping bug (a shape the code did not foresee) breaks translation of this payload,
    # so the authentic request waits whole in the DLQ.
    from ciohooks.sources.email import sendgrid

    def mapping_of_monday(*args, **kwargs):
        raise KeyError("sg_event_id")

    monkeypatch.setattr(sendgrid.SendGrid, "translate", mapping_of_monday)
    broken = make_pipeline()
    assert post_signed(broken).status_code == 200
    (envelope,) = peek_dlq(sqs_queues)
    # The reason names the error's class and where it was raised, never its message (which may quote the payload).
    assert envelope.kind == "request" and envelope.failure.error == "unexpected payload shape (KeyError in ingest.translate)"
    # Tuesday: fixed. The replayed raw request is translated by the deliver step, not replayed as stale events.
    monkeypatch.undo()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_queues.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", sqs_queues.endpoint_url)
    fixed = make_pipeline()
    replay(sqs_queues)
    drain(fixed, sqs_queues, lambda: len(cio_standin.events) >= DELIVERABLE)
    assert len(cio_standin.events) == DELIVERABLE
    assert not peek_dlq(sqs_queues)


def peek_dlq(sqs_queues) -> list[Envelope]:
    """The dead letters, looked at and made visible again at once."""
    messages = sqs_queues.receive_all("dlq", delete=False)
    sqs_queues.release("dlq", [m["ReceiptHandle"] for m in messages])
    return [Envelope.from_json(m["Body"]) for m in messages]


def cli_translate_line(event_name: str) -> str:
    """The JSON body ``ciohooks translate`` prints for one of the batch's events."""
    import contextlib
    import io
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(BATCH)
        handle.flush()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(["translate", "email/sendgrid", handle.name]) == 0
    for line in out.getvalue().splitlines():
        body = json.loads(line)["body"]
        if body["event"] == event_name:
            return json.dumps(body)
    raise AssertionError(f"no {event_name} in the translation")


def test_serve_pointed_at_sqs_queues_delivers(sqs_queues, cio_standin, tmp_path):
    """``ciohooks serve`` as a subprocess with real (emulated) SQS queues: its worker receives with
    an integer WaitTimeSeconds, and what ingest queued reaches Customer.io."""
    from tests.support.serve import ServeProcess

    settings = {
        "CIOHOOKS_DELIVERY_QUEUE_URL": sqs_queues.delivery_url,
        "CIOHOOKS_DEAD_LETTER_QUEUE_URL": sqs_queues.dlq_url,
        "CIOHOOKS_CLAIM_CHECK_BUCKET": sqs_queues.bucket,
        "CIOHOOKS_CUSTOMERIO_API_KEY": cio_standin.api_key,
        "CIOHOOKS_CUSTOMERIO_BASE_URL": cio_standin.base_url,
        "CIOHOOKS_SENDGRID_VERIFICATION_KEY": PUBLIC_KEY,
    }
    with ServeProcess(settings, tmp_path, sqs_queues.env()) as serve:
        response = requests.post(f"{serve.url}/sendgrid", data=BATCH, headers={"Content-Type": "application/json", **sign_sendgrid(PRIVATE_KEY, BATCH)}, timeout=10)
        assert response.status_code == 200
        assert cio_standin.wait_for_events(DELIVERABLE, timeout=20), serve.log()
        deadline = time.monotonic() + 10  # the message is deleted right after Customer.io's answer
        while sqs_queues.count("delivery", in_flight=True) and time.monotonic() < deadline:
            time.sleep(0.1)
        log = serve.log()
    assert "Traceback" not in log and "WaitTimeSeconds" not in log
    assert sqs_queues.count("delivery", in_flight=True) == 0 and sqs_queues.count("dlq") == 0
