"""Hostile input on every route: no unhandled exception, no 5xx (the queues here are always up),
the right 4xx otherwise. Property-based (hypothesis), bounded so the suite stays fast.

Two postures per source: with its secrets configured (so most junk stops at authentication) and
with ALLOW_UNSIGNED (so junk reaches the parsers and mappings, where the real risk is).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.handlers import ingest_resolver
from ciohooks.ingest import Ingest
from ciohooks.local import local_keys
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.samples import sample_files

EVENTS = Path(__file__).parents[2] / "events"
LOCAL = local_keys(EVENTS / "keys")
ROUTES = [name.split("/", 1)[1] for name in sources.names()]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "post", "PROPFIND"]
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/cloudevents+json", "", "application/json; charset=utf-16", "\x00\r\nX-Injected: 1"]
ALLOWED = {200, 201, 202, 204, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429}


def real_bodies() -> list[bytes]:
    bodies = []
    for name in sources.names():
        for sample in sample_files(EVENTS / "samples" / name):
            bodies.append(sample.read_bytes())
    return bodies or [b"[]"]


REAL = real_bodies()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


bodies = st.one_of(
    st.binary(max_size=2048),
    st.sampled_from(REAL).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),  # truncated real payloads
    st.sampled_from(REAL).flatmap(lambda b: st.integers(0, max(0, len(b) - 1)).flatmap(lambda i: st.binary(min_size=1, max_size=3).map(lambda junk: b[:i] + junk + b[i + len(junk):]))),  # corrupted
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20), lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=30).map(lambda v: json.dumps(v).encode()),
    st.integers(50, 5000).map(nested),  # deep nesting
    st.just(b"x" * 1_100_000),  # larger than any route accepts
)
headers = st.dictionaries(
    st.sampled_from(["x-twilio-email-event-webhook-signature", "x-twilio-email-event-webhook-timestamp", "authorization", "webhook-id", "webhook-signature", "webhook-timestamp", "svix-signature", "x-mandrill-signature", "x-amz-sns-message-type", "origin", "x-api-key", "sentry-hook-signature", "ce-type", "x-custom"]),
    st.text(max_size=80),
    max_size=5,
)


def resolvers(extra: dict[str, str]):
    return {family: ingest_resolver(Ingest(family, MemoryQueue(), MemoryQueue(), Settings({**LOCAL, "CIOHOOKS_MAX_BODY_BYTES": "1000000", **extra}))) for family in sources.FAMILIES}


@pytest.mark.parametrize("posture", ["configured", "unsigned"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hostile_requests_get_a_clean_answer(posture, data):
    apps = resolvers({"CIOHOOKS_ALLOW_UNSIGNED": "true"} if posture == "unsigned" else {})
    family = data.draw(st.sampled_from(sources.FAMILIES))
    route = data.draw(st.sampled_from(ROUTES + ["", "nope", "../etc/passwd", "sendgrid/extra", "%00", "a" * 300]))
    body = data.draw(bodies)
    request = WebhookRequest(
        data.draw(st.sampled_from(METHODS)).upper(),
        "/" + route,
        body,
        {"content-type": data.draw(st.sampled_from(CONTENT_TYPES)), **data.draw(headers)},
        data.draw(st.text(max_size=60)).replace("#", ""),
    )
    event = request.to_function_url_event()
    if data.draw(st.booleans()):  # Function URLs base64-encode what they consider binary
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    response = apps[family].resolve(event, None)
    assert response["statusCode"] in ALLOWED, (family, route, response)


def test_a_body_flagged_base64_that_is_not_base64_is_refused():
    app = resolvers({})["email"]
    event = WebhookRequest("POST", "/sendgrid", b"", {"content-type": "application/json"}).to_function_url_event()
    event["body"], event["isBase64Encoded"] = "@@@ not base64 @@@", True
    response = app.resolve(event, None)
    assert response["statusCode"] == 400
