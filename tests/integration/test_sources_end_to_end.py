"""Every source, one real sample each, through serve -> SQS -> deliver -> the Customer.io stand-in.

The samples are the providers' own (credited in events/samples/<family>/<source>/README.md). Each is
signed at send time with the local-only keys (events/keys/), posted over HTTP, and must reach the
stand-in as exactly the events ``translate`` gives for it: valid against the seed specs (the
stand-in checks), once each. A source an AWS service hands the function (``Source.transport``
"eventbridge": SES through EventBridge) has no URL: its event goes through the ingest function's
EventBridge entry into the same queues, and the same event over HTTP is refused.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.handlers import handle_eventbridge_event
from ciohooks.ingest import translate
from ciohooks.local import local_keys, signing_key
from ciohooks.samples import sample_files, sample_folder, sample_request
from tests.support.pipeline import drain, pipeline_settings, served

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).parents[2] / "events"


def first_deliverable_sample(full_name: str):
    """The first sample of a source that translates into at least one event."""
    source = sources.load(full_name)
    for sample in sample_files(sample_folder(source, EVENTS / "samples")):
        request = sample_request(source, sample)
        try:
            events = translate(source(Settings(local_keys(EVENTS / "keys"))), request).events
        except Exception:
            continue
        if events:
            return sample, [e.to_cio() for e in events]
    return None


CASES = [(name, found) for name in sources.names() if (found := first_deliverable_sample(name))]


@pytest.fixture
def pipeline(sqs_queues, cio_standin, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_queues.endpoint_url)
    with served(pipeline_settings(sqs_queues, cio_standin, **local_keys(EVENTS / "keys"))) as local:
        yield local


def test_every_source_has_a_deliverable_sample():
    assert {name for name, _ in CASES} == set(sources.names())


@pytest.mark.parametrize("full_name,case", CASES, ids=[name for name, _ in CASES])
def test_sample_reaches_customerio(full_name, case, pipeline, sqs_queues, cio_standin):
    sample, expected = case
    source = sources.load(full_name)
    request = dataclasses.replace(sample_request(source, sample), received_at=datetime.now(UTC))
    if (key := signing_key(source, EVENTS / "keys")) is not None:
        request = source.sign(request, key)
    elif source.installed_by_definition and source.secret_name:  # a definition of yours in custom-sources/
        pytest.skip(f"put a local CIOHOOKS_{source.secret_name}=... in events/keys/local.env to send {full_name}'s sample signed")
    url = f"{pipeline.url}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
    response = requests.request(request.method, url, data=request.body, headers=dict(request.headers), timeout=10)
    if source.transport == "eventbridge":  # no URL: refused over HTTP, handed to the function instead
        assert response.status_code == 401, response.text
        outcome = handle_eventbridge_event(pipeline.ingests[source.family], json.loads(request.body))
        assert outcome == {"status": 200, "result": "queued"}
    else:
        assert 200 <= response.status_code < 300, response.text

    drain(pipeline, sqs_queues, lambda: len(cio_standin.events) >= len(expected), timeout=15)
    assert sorted(e["messageId"] for e in cio_standin.events) == sorted(e["messageId"] for e in expected)
    assert cio_standin.duplicates() == {} and sqs_queues.count("dlq") == 0
