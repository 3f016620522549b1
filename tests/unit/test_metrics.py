"""Every source's requests produce the metrics the dashboard and alarms read (namespace CioHooks,
dimensions service + source): Received plus the outcome, Unauthorized on a refused signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_lambda_powertools import Metrics

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.handlers import handle_eventbridge_event, ingest_resolver
from ciohooks.ingest import Ingest
from ciohooks.local import local_keys, signing_key
from ciohooks.queue import MemoryQueue
from ciohooks.request import EVENTBRIDGE
from ciohooks.samples import sample_files, sample_request

EVENTS = Path(__file__).parents[2] / "events"


def flushed(monkeypatch, requests_and_families) -> list[dict]:
    """Run requests as the Lambda function would (one flush per invocation) and return the EMF blobs."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "cio-hooks-test")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CioHooks")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "cio-hooks")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    blobs = []
    metrics = Metrics()
    for family, request in requests_and_families:
        ingest = Ingest(family, MemoryQueue(), MemoryQueue(), Settings(local_keys(EVENTS / "keys")))
        if request.transport == EVENTBRIDGE:  # no URL: the function is handed the event itself
            handle_eventbridge_event(ingest, json.loads(request.body))
        else:
            ingest_resolver(ingest).resolve(request.to_function_url_event(), None)
        blobs.append(metrics.serialize_metric_set())
        metrics.clear_metrics()
    return blobs


def metric_names(blob: dict) -> set[str]:
    return {m["Name"] for directive in blob["_aws"]["CloudWatchMetrics"] for m in directive["Metrics"]}


@pytest.mark.parametrize("full_name", sources.names())
def test_each_source_emits_received_and_its_outcome(full_name, monkeypatch):
    source = sources.load(full_name)
    sample = sample_files(EVENTS / "samples" / full_name)[0]
    request = sample_request(source, sample)
    if (key := signing_key(source, EVENTS / "keys")) is not None:
        request = source.sign(request, key)
    family = full_name.split("/")[0]
    (blob,) = flushed(monkeypatch, [(family, request)])
    assert blob["source"] == full_name and blob["service"] == "cio-hooks"
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "CioHooks"
    assert ["service", "source"] in [sorted(d) for d in blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]
    names = metric_names(blob)
    assert "Received" in names and names & {"Queued", "Ignored", "DeadLettered", "Replied"}, names


def test_a_refused_signature_counts_as_unauthorized(monkeypatch):
    source = sources.load("email/sendgrid")
    request = sample_request(source, EVENTS / "samples/email/sendgrid/batch.json")  # unsigned
    (blob,) = flushed(monkeypatch, [("email", request)])
    assert {"Received", "Rejected", "Unauthorized"} <= metric_names(blob)
    assert json.dumps(blob).count("example@test.com") == 0
