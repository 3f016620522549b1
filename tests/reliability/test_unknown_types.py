"""An event type this version does not know is kept whole, and a mapping fix plus a replay heals it.

A type Brevo may add tomorrow (``spam_report``, here: Brevo's ``spam`` sample under a new name, as
providers rename types) is neither mapped by the Brevo source nor declared as ignored. A batch
holding it beside four mapped events goes through the real pipeline (the SQS
emulator, the deliver function, the Customer.io stand-in):

1. ingest answers 200 once the four events are queued AND the whole raw request is in the DLQ
   (stage ``translate``, ``unknown event type 'spam_report' (x1)``, ``exclude_ids`` = the four);
2. the four are delivered;
3. the mapping is "fixed" (a monkeypatched Brevo ``EVENTS`` that maps ``spam_report`` to Email Marked
   as Spam, what the next version would ship) and ``ciohooks dlq replay`` puts the dead letter back;
4. deliver translates the request again with the fixed code and sends only that one: the four
   are excluded by messageId, so Customer.io gets each event exactly once.

The ledger prints sent, acked, delivered, in DLQ, replayed, DLQ duplicates and lost; the last two
must be 0.

Payloads: Brevo's documented samples (events/samples/email/brevo, credited there). (Brevo's real
``complaint`` type, once the example here, is mapped now: docs/sources/brevo.md.)
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from ciohooks import cli
from ciohooks.envelope import Envelope
from ciohooks.local import LocalPipeline, local_keys, signing_key
from ciohooks.request import WebhookRequest
from ciohooks.semantic.email import EmailMarkedAsSpam
from ciohooks.sources.email import brevo
from tests.support.pipeline import drain as drain_until, pipeline_settings

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).parents[2] / "events"
SAMPLES = EVENTS / "samples" / "email" / "brevo"
MAPPED = ["delivered.json", "opened.json", "click.json", "hard_bounce.json"]
# The messageIds the four mapped samples become (UUIDv5 of their content), and the complaint's once mapped.
MAPPED_IDS = {
    "5e33e2d9-994c-5509-804b-b5fb1c2e78f3",  # Email Delivered
    "aa38f8bf-5a53-501e-bb86-05bc2048b9cb",  # Email Opened
    "85ffdfb0-35f0-5a97-b934-24c565f44345",  # Email Link Clicked
    "81d7c53f-70be-5d7d-bb1e-fc37aaac99cd",  # Email Bounced
}
COMPLAINT_ID = "ff2917c3-8ca0-5c05-8d94-a2d394635d87"  # Email Marked as Spam (the id names the provider type, spam_report)


def brevo_batch() -> bytes:
    items = [json.loads((SAMPLES / name).read_text()) for name in MAPPED]
    items.append({**json.loads((SAMPLES / "spam.json").read_text()), "event": "spam_report"})
    return json.dumps(items).encode()


@pytest.fixture
def pipeline(sqs_queues, cio_standin, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_queues.endpoint_url)
    return LocalPipeline(pipeline_settings(sqs_queues, cio_standin, **local_keys(EVENTS / "keys")), write=lambda line: None)


def dead_letters(sqs_queues) -> list[Envelope]:
    """The DLQ's messages, looked at without consuming them (visibility 0)."""
    return [Envelope.from_json(m["Body"]) for m in sqs_queues.receive("dlq", visibility_timeout=0)]


def duplicates(envelopes: list[Envelope]) -> int:
    """Dead letters holding a request another one already holds."""
    return len(envelopes) - len({json.dumps(e.request, sort_keys=True) for e in envelopes})


def drain(pipeline, sqs_queues, timeout: float = 30.0) -> None:
    drain_until(pipeline, sqs_queues, lambda: sqs_queues.count("delivery", in_flight=True) == 0, timeout=timeout)


def replay(sqs_queues) -> int:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli.main(["dlq", "replay", "--queue-url", sqs_queues.dlq_url, "--to", sqs_queues.delivery_url, "--endpoint-url", sqs_queues.endpoint_url])
    return json.loads(out.getvalue())["replayed"]


def test_an_unknown_type_is_kept_then_a_mapping_fix_and_a_replay_deliver_only_what_was_missing(pipeline, sqs_queues, cio_standin, monkeypatch, capsys):
    body = brevo_batch()
    request = brevo.Brevo.sign(WebhookRequest("POST", "/brevo", body, {"content-type": "application/json"}), signing_key(brevo.Brevo, EVENTS / "keys"))

    # 1. Ingest: 200 only once the four events are queued and the whole request is dead-lettered.
    response = pipeline.handle(request)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"accepted": 4, "ignored": 0, "dead_lettered": True}
    before_replay = dead_letters(sqs_queues)
    (kept,) = before_replay
    assert (kept.kind, kept.failure.stage, kept.failure.error) == ("request", "translate", "unknown event type 'spam_report' (x1)")
    assert set(kept.exclude_ids) == MAPPED_IDS
    assert WebhookRequest.from_dict(kept.request).body == body and "authorization" not in kept.request["headers"]

    # 2. The four mapped events are delivered; the complaint waits in the DLQ.
    drain(pipeline, sqs_queues)
    assert set(cio_standin.message_ids()) == MAPPED_IDS

    # 3. The next version maps the type; the operator replays the dead letter.
    monkeypatch.setitem(brevo.EVENTS, "spam_report", EmailMarkedAsSpam)
    replayed = replay(sqs_queues)
    drain(pipeline, sqs_queues)

    # 4. Only the missing event was sent, each event exactly once.
    delivered = cio_standin.message_ids()
    complaint = [e for e in cio_standin.events if e["messageId"] not in MAPPED_IDS]
    assert [(e["event"], e["messageId"]) for e in complaint] == [("Email Marked as Spam", COMPLAINT_ID)]
    after_replay = dead_letters(sqs_queues)
    ledger = {
        "sent": 1,
        "acked": 1,
        "events_expected": len(MAPPED_IDS) + 1,
        "delivered": len(set(delivered)),
        "delivered_copies": len(delivered),
        "dead_lettered": len(before_replay),
        "replayed": replayed,
        "in_dlq": len(after_replay),
        "dlq_duplicates": duplicates(before_replay) + duplicates(after_replay),
        "lost": len((MAPPED_IDS | {COMPLAINT_ID}) - set(delivered)),
    }
    with capsys.disabled():
        print("\n  unknown event type, fixed and replayed: " + json.dumps(ledger))
    assert ledger == {
        "sent": 1, "acked": 1, "events_expected": 5, "delivered": 5, "delivered_copies": 5,
        "dead_lettered": 1, "replayed": 1, "in_dlq": 0, "dlq_duplicates": 0, "lost": 0,
    }
