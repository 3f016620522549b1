"""bench/floor.py (the no-validation floor of `make bench`) produces what the real path produces
on the bench's 1,000-event payloads, dict for dict and key for key: the ratio compares equal work.
And json_depth's faster reading of a body measures what the plain split measured."""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench import floor
from bench.run import mailjet_batch, sendgrid_batch
from ciohooks.config import Settings
from ciohooks.ingest import translate
from ciohooks.request import WebhookRequest, json_depth
from ciohooks.sources.email.mailjet import Mailjet
from ciohooks.sources.email.sendgrid import SendGrid

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples"


def _real(source, body: bytes) -> str:
    request = WebhookRequest("POST", f"/{source.name}", body, {"content-type": "application/json"})
    return json.dumps([event.to_cio() for event in translate(source, request).events])


def test_the_sendgrid_floor_produces_the_real_output():
    body = sendgrid_batch(1000)
    produced = floor.sendgrid(body)
    assert len(produced) == 637  # 1,000 events, of which processed/deferred/dropped/resubscribe/blocked are not sent
    assert json.dumps(produced) == _real(SendGrid(Settings({})), body)


def test_the_mailjet_floor_produces_the_real_output():
    body = mailjet_batch(1000)
    produced = floor.mailjet(body)
    assert len(produced) == 923  # blocked and soft bounces are not sent
    assert json.dumps(produced) == _real(Mailjet(Settings({})), body)


def _depth_by_plain_split(raw: bytes) -> int:
    """json_depth as it was: drop escapes, split on every quote, count the brackets outside."""
    import re

    if b"\\" in raw:
        raw = re.sub(rb"\\.", b"", raw, flags=re.DOTALL)
    depth = deepest = 0
    for byte in b"".join(raw.split(b'"')[::2]):
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def test_json_depth_measures_what_the_plain_split_measured():
    bodies = [path.read_bytes() for path in sorted(SAMPLES.rglob("*.json"))] + [sendgrid_batch(50), mailjet_batch(50)]
    rng = random.Random(17)  # fixed seed: deterministic in CI
    alphabet = b'[]{}""\\ab:,'
    bodies += [bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 80))) for _ in range(3000)]
    bodies += [b'["[[[", "]]]", [[{"a": "}}}\\"[["}]]]', b'"" "[" ""' * 3, b"[" * 150 + b"]" * 150]
    for body in bodies:
        assert json_depth(body) == max(0, _depth_by_plain_split(body)), body[:80]
