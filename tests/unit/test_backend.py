"""The app-backend contract (mobile/backend): mapping, identity, the 400 path, the published schema,
Standard Webhooks signatures, replays, the Customer.io loop guard, and the example senders.

Samples: events/samples/mobile/backend (credited in its README.md). Signature vector: the
Standard Webhooks Python library's own test, standard-webhooks/standard-webhooks
libraries/python/tests/test_webhooks.py @ 33d368b20c5543357f4f27fd13bed0703b8c5204 (test_sign_function).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import os
import random
import re
import runpy
import shutil
import subprocess
import threading
import time
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ciohooks.sources._customerio_loop import customerio_webhook
from ciohooks.config import Settings
from ciohooks.envelope import Envelope
from ciohooks.ingest import Ingest, Outcome
from ciohooks.local import local_keys
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.sources import InvalidPayload, NotConfigured, Refused, Unauthorized, load
from ciohooks.sources.mobile import backend
from ciohooks.sources import _standard_webhooks as standard_webhooks
from ciohooks.sources.mobile.backend import EVENT_TYPES, SOURCE, Backend, ContractViolation, parse_contract
from tests.support.spec import assert_valid_event

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "samples" / "mobile" / "backend"
EXAMPLES = ROOT / "examples" / "backend"
DOC = ROOT / "docs" / "sources" / "backend.md"
SCHEMA_PATH = Path(backend.__file__).resolve().parents[2] / "schemas" / backend.SCHEMA_FILE
SCHEMA = json.loads(SCHEMA_PATH.read_text("utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
SOURCE_NAME = "mobile/backend"
LOCAL_SECRET = local_keys(ROOT / "events" / "keys")["CIOHOOKS_BACKEND_SIGNING_SECRET"]
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
NOW = 1_705_314_600  # 2024-01-15T10:30:00Z, the time "AWS received" the requests below

# standard-webhooks/standard-webhooks libraries/python/tests/test_webhooks.py (test_sign_function)
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

APNS = "3f1c6e0b9a7d4e2f8c5b1a0d6e9f3c7b2a8d4e1f0c9b7a6e5d3c2b1a0f9e8d7c"
FCM = "dXk3bC1mYWtlOkFQQTkxYkgtbG9jYWwtb25seS1leGFtcGxlLWZjbS10b2tlbi1ub3QtYS1yZWFsLW9uZQ"
T = "2024-01-15T10:30:00Z"


# ---- helpers ------------------------------------------------------------------------------------


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / f"{name}.json").read_bytes()


def sample(name: str) -> dict[str, Any]:
    return json.loads(sample_bytes(name))


def sample_event(name: str) -> dict[str, Any]:
    (event,) = sample(name)["events"]
    return event


SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.json"))


def envelope(*events: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "events": list(events)}


def encode(document: Any) -> bytes:
    return document if isinstance(document, bytes) else json.dumps(document).encode()


def source(**env: str) -> Backend:
    return Backend(Settings({f"CIOHOOKS_{k}": v for k, v in env.items()}))


def request(body: Any, headers: dict[str, str] | None = None, received: float = NOW) -> WebhookRequest:
    return WebhookRequest("POST", "/backend", encode(body), {"content-type": "application/json", **(headers or {})}, received_at=datetime.fromtimestamp(received, UTC))


def signed(body: Any, secret: str = LOCAL_SECRET, at: float = NOW, received: float | None = None, msg_id: str | None = None) -> WebhookRequest:
    """``body`` signed at ``at`` and received at ``received`` (default: the same second)."""
    headers = {"webhook-id": msg_id} if msg_id else {}
    made = Backend.sign(request(body, headers, received=at), secret)
    return WebhookRequest(made.method, made.path, made.body, made.headers, received_at=datetime.fromtimestamp(at if received is None else received, UTC))


def translate(body: Any) -> list[dict[str, Any]]:
    """Translate, validate every emitted event against the seed specs, return the Customer.io bodies."""
    bodies = [event.to_cio() for event in source().translate(request(body)).events]
    for cio in bodies:
        assert_valid_event(cio)
    return bodies


def one(body: Any) -> dict[str, Any]:
    (cio,) = translate(body)
    return cio


def problems(body: Any) -> list[tuple[str, str]]:
    """What parse_contract refuses ``body`` for: (JSON Pointer, message) pairs; [] when it is valid."""
    try:
        parse_contract(encode(body))
    except ContractViolation as violation:
        assert violation.problems, "a violation always names a problem"
        return [(p.path, p.message) for p in violation.problems]
    return []


def schema_errors(document: Any) -> list[str]:
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(document)]


# The messageId of each sample event: the UUIDv5 of the source and the event's id.
MESSAGE_IDS = {
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e01": "5ed3b6bb-cd90-5c34-9c67-2f508db6aeb1",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e02": "befb262c-bce3-5960-9b0b-ac3081f73387",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e03": "0307c41a-63f5-5cc1-b267-b45f7eb9c885",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e04": "2d7c4744-189c-55d4-ad9d-1cafb36dad9c",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e05": "e556f340-0430-53a9-b518-254b1fdefea6",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e06": "6d2d2559-8b50-5e15-bb63-871f80434160",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e07": "9e907196-6a12-5d80-8e51-6911170bb9f2",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e08": "38eb3a2d-1b6f-5234-a08d-80e6430aa557",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e09": "e80cb756-4690-5184-816e-298540962370",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e10": "1908d683-26c8-5eae-b738-d22c5735dcd0",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e11": "bc84b3d7-4d33-578e-93d2-c9656bac03b1",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e12": "9ba38dae-acc5-5ed0-9387-2974f835e5ea",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e13": "81670002-8999-59f3-bacb-76bfebdd4d7f",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e14": "bc0a064c-165e-5509-af0b-56a1d9f56bde",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e15": "6cfd3b0c-1bce-533b-ae06-ce2d1ba42805",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e16": "f0335b31-7622-5b09-b8ed-494e3ff9f3d5",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e17": "2eef5665-8808-5204-9222-e9bdfbbadc7f",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9e18": "1aac5cfe-a896-5d5f-a958-fbeca5fa6ef2",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9eb0": "3952f7e7-123f-5f96-99c5-a1139974235d",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9eb1": "cf7dbb6b-a3d9-5a3f-860c-06ab49084fca",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9eb2": "d463fd08-6ca4-5338-899e-aa0d429bad5c",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9eb3": "f991cca3-b824-55ac-8167-0d0d6b1bc3df",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9eb4": "bc11c4e3-65a5-5241-b63d-fdc55af7978a",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9eb5": "63afa02b-cd8e-5c55-bfdc-6bad35974d0f",
    "0b7f3d2e-1c4a-4e8b-9f21-5d6c7a8b9eb6": "880de19b-b48a-5108-9306-ad3ccc456920",
}


def mid(event_id: str) -> str:
    return MESSAGE_IDS[event_id]


def ingest(**env: str) -> Ingest:
    return Ingest("mobile", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_BACKEND_SIGNING_SECRET": LOCAL_SECRET, **{f"CIOHOOKS_{k}": v for k, v in env.items()}}))


def queued_events(queue: MemoryQueue) -> list[dict[str, Any]]:
    events = []
    while messages := queue.receive():
        for message in messages:
            events.extend(Envelope.from_json(message.body).events)
    return events


# ---- every sample, translated exactly -----------------------------------------------------------

EXPECTED: dict[str, list[dict[str, Any]]] = {
    "device-registered": [{"event": "Device Created or Updated", "userId": "user_12345", "context": {"device": {"token": APNS, "type": "ios"}}}],
    "device-registered-android": [{"event": "Device Created or Updated", "userId": "user_12345", "context": {"device": {"token": FCM, "type": "android"}}}],
    "device-removed": [{"event": "Device Deleted", "userId": "user_12345", "timestamp": "2024-01-15T11:02:41.512000Z", "context": {"device": {"token": APNS, "type": "ios"}}}],
    "app-installed": [{"event": "Application Installed", "anonymousId": "anon_abc123xyz", "properties": {"version": "2.1.0", "build": "421"}}],
    "app-opened": [{"event": "Application Opened", "userId": "user_12345", "properties": {"version": "2.1.0", "build": "421", "from_background": False, "url": "myapp://promo/summer-sale"}}],
    "app-opened-anonymous": [{"event": "Application Opened", "anonymousId": "anon_abc123xyz", "timestamp": "2024-01-15T09:31:12Z"}],
    "app-backgrounded": [{"event": "Application Backgrounded", "userId": "user_12345"}],
    "app-foregrounded": [{"event": "Application Foregrounded", "userId": "user_12345", "properties": {"version": "2.1.0"}}],
    "app-updated": [{"event": "Application Updated", "userId": "user_12345", "properties": {"version": "2.1.0", "build": "421", "previous_version": "2.0.5", "previous_build": "398"}}],
    "app-uninstalled": [{"event": "Application Uninstalled", "userId": "user_12345"}],
    "app-crashed": [{"event": "Application Crashed", "userId": "user_12345", "properties": {"version": "2.1.0", "build": "421", "crash_reason": "example custom property"}}],
    "user-deleted": [{"event": "User Deleted", "userId": "42"}],
    "user-suppressed": [{"event": "User Suppressed", "userId": "42"}],
    "user-unsuppressed": [{"event": "User Unsuppressed", "userId": "42"}],
    "relationship-deleted": [{"event": "Relationship Deleted", "userId": "1", "properties": {"objectId": "acme", "objectTypeId": 1}}],
    "object-deleted": [{"event": "Object Deleted", "anonymousId": "value-not-used", "properties": {"objectId": "acme"}}],
    "delivery-metric": [{"event": "Report Delivery Event", "userId": "42", "properties": {"deliveryId": "42", "metric": "clicked", "actionValue": "enable_push", "href": "myapp://settings/enable_push"}}],
    "delivery-metric-push": [{"event": "Report Delivery Event", "anonymousId": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "properties": {"deliveryId": "RPILAgUBcRhIBqSfeiIwdIYJKxTY", "metric": "opened", "recipient": APNS}}],
}


def expected_bodies(name: str) -> list[dict[str, Any]]:
    """EXPECTED[name] completed with what every body has: type, messageId, the usual timestamp."""
    events = sample(name)["events"]
    return [{"type": "track", "messageId": mid(raw["id"]), "timestamp": T, **partial} for raw, partial in zip(events, EXPECTED[name], strict=True)]


def test_every_sample_file_is_pinned_here() -> None:
    assert set(SAMPLE_NAMES) == set(EXPECTED) | {"batch"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_translates_to_exactly_this(name: str) -> None:
    assert translate(sample_bytes(name)) == expected_bodies(name)


def test_samples_cover_all_fifteen_event_types() -> None:
    assert len(EVENT_TYPES) == 15
    assert {sample_event(name)["type"] for name in EXPECTED} == set(EVENT_TYPES)
    assert {event.name for event in (model.cio_event for model in EVENT_TYPES.values())} == {
        "Device Created or Updated", "Device Deleted", "Application Installed", "Application Opened",
        "Application Backgrounded", "Application Foregrounded", "Application Updated", "Application Uninstalled",
        "Application Crashed", "User Deleted", "User Suppressed", "User Unsuppressed", "Relationship Deleted",
        "Object Deleted", "Report Delivery Event",
    }  # fmt: skip


def test_batch_sample_keeps_order_and_gives_distinct_message_ids() -> None:
    bodies = translate(sample_bytes("batch"))
    assert [b["event"] for b in bodies] == [
        "Device Created or Updated", "Application Installed", "Application Opened", "Application Backgrounded",
        "Application Foregrounded", "Application Updated", "Report Delivery Event",
    ]  # fmt: skip
    assert [b["messageId"] for b in bodies] == [mid(e["id"]) for e in sample("batch")["events"]]
    assert len({b["messageId"] for b in bodies}) == 7


def test_message_id_is_pinned() -> None:
    # A literal: changing ids.NAMESPACE or the derivation would break de-duplication downstream.
    assert one(sample_bytes("app-opened"))["messageId"] == "e556f340-0430-53a9-b518-254b1fdefea6"


# ---- nothing invented ------------------------------------------------------------------------------


def test_absent_optional_fields_stay_absent() -> None:
    bare_open = {k: v for k, v in sample_event("app-opened").items() if k not in ("from_background", "url")}
    bare_open["app"] = {"version": "2.1.0"}
    assert one(envelope(bare_open))["properties"] == {"version": "2.1.0"}
    no_platform = {**sample_event("device-removed"), "device": {"token": APNS}}
    assert one(envelope(no_platform))["context"] == {"device": {"token": APNS}}
    no_type_id = {**sample_event("relationship-deleted"), "object": {"id": "acme"}}
    assert one(envelope(no_type_id))["properties"] == {"objectId": "acme"}
    bare_delivery = {**sample_event("delivery-metric"), "delivery": {"id": "42", "metric": "delivered"}}
    assert one(envelope(bare_delivery))["properties"] == {"deliveryId": "42", "metric": "delivered"}


def test_from_background_true_and_an_integral_float_type_id() -> None:
    assert one(envelope({**sample_event("app-opened"), "from_background": True}))["properties"]["from_background"] is True
    # JSON Schema counts 2.0 as an integer, so the contract does; Customer.io gets the integer 2.
    cio = one(envelope({**sample_event("object-deleted"), "object": {"id": "acme", "type_id": 2.0}}))
    assert cio["properties"] == {"objectId": "acme", "objectTypeId": 2} and type(cio["properties"]["objectTypeId"]) is int


def test_custom_properties_are_passed_on_as_sent() -> None:
    custom = {"plan": "pro", "count": 3, "nested": {"a": [1, None]}}
    assert one(envelope({**sample_event("user-deleted"), "properties": custom}))["properties"] == custom
    assert one(envelope({**sample_event("app-backgrounded"), "properties": custom}))["properties"] == custom
    assert "properties" not in one(envelope({**sample_event("app-backgrounded"), "properties": {}}))


# ---- identity --------------------------------------------------------------------------------------

EITHER = ["app-installed", "app-opened", "app-backgrounded", "app-foregrounded", "app-updated", "app-uninstalled", "app-crashed", "delivery-metric"]
USER_ONLY = ["device-registered", "device-removed", "user-deleted", "user-suppressed", "user-unsuppressed", "relationship-deleted"]


def with_identity(name: str, **identity: str) -> dict[str, Any]:
    event = {k: v for k, v in sample_event(name).items() if k not in ("user_id", "anonymous_id")}
    return {**event, **identity}


@pytest.mark.parametrize("name", EITHER)
def test_either_identity_is_accepted_where_the_spec_allows_both(name: str) -> None:
    known = one(envelope(with_identity(name, user_id="u-1")))
    anonymous = one(envelope(with_identity(name, anonymous_id="a-1")))
    assert (known["userId"], "anonymousId" in known) == ("u-1", False)
    assert (anonymous["anonymousId"], "userId" in anonymous) == ("a-1", False)


@pytest.mark.parametrize("name", EITHER)
def test_both_or_neither_identity_is_refused(name: str) -> None:
    both = envelope(with_identity(name, user_id="u-1", anonymous_id="a-1"))
    neither = envelope(with_identity(name))
    for body in (both, neither):
        assert problems(body) == [("/events/0", "send exactly one of user_id and anonymous_id")]
        assert schema_errors(body)


@pytest.mark.parametrize("name", USER_ONLY)
def test_user_only_events_refuse_an_anonymous_id(name: str) -> None:
    assert problems(envelope(with_identity(name, anonymous_id="a-1"))) == [
        ("/events/0/user_id", "required"),
        ("/events/0/anonymous_id", "is not a field of this event type"),
    ]
    assert problems(envelope(with_identity(name, user_id="u-1", anonymous_id="a-1"))) == [("/events/0/anonymous_id", "is not a field of this event type")]


def test_object_deleted_takes_an_anonymous_id_and_no_user_id() -> None:
    assert problems(envelope(with_identity("object-deleted", user_id="u-1"))) == [
        ("/events/0/anonymous_id", "required"),
        ("/events/0/user_id", "is not a field of this event type"),
    ]
    assert one(envelope(with_identity("object-deleted", anonymous_id="billing-service")))["anonymousId"] == "billing-service"


# ---- refusals: every problem, by JSON Pointer, without values -------------------------------------


def mutate(name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The sample ``name`` with ``change`` applied to its (only) event."""
    body = sample(name)
    change(body["events"][0])
    return body


def set_(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = event
        for part in parents:
            node = node[part]
        node[last] = value

    return change


def delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = event
        for part in parents:
            node = node[part]
        del node[last]

    return change


# (what, body, the first problem's path, a fragment of its message). Each is also schema-invalid.
INVALID: list[tuple[str, Any, str, str]] = [
    ("not JSON", b"{not json", "", "not JSON"),
    ("not UTF-8", b"\xff\xfe{}", "", "not UTF-8"),
    ("a JSON array", [sample_event("app-opened")], "", "must be a JSON object"),
    ("no version", {"events": [sample_event("app-opened")]}, "/version", "required"),
    ("version 2", {"version": 2, "events": [sample_event("app-opened")]}, "/version", "accepted_versions"),
    ("version as a string", {"version": "1", "events": [sample_event("app-opened")]}, "/version", "accepted_versions"),
    ("version true", {"version": True, "events": [sample_event("app-opened")]}, "/version", "accepted_versions"),
    ("an unknown top-level field", {**envelope(sample_event("app-opened")), "sent_at": T}, "/sent_at", "not a field"),
    ("no events", {"version": 1}, "/events", "required"),
    ("events not an array", {"version": 1, "events": sample_event("app-opened")}, "/events", "must be an array"),
    ("no event at all", envelope(), "/events", "1 to 100"),
    ("101 events", envelope(*[{**sample_event("app-backgrounded"), "id": f"e{i}"} for i in range(101)]), "/events", "1 to 100"),
    ("an event that is not an object", envelope("app.opened"), "/events/0", "must be an object"),
    ("no type", mutate("app-opened", delete("type")), "/events/0/type", "required"),
    ("an unknown type", mutate("app-opened", set_("type", "app.launched")), "/events/0/type", "accepted_types"),
    ("a type of another spelling", mutate("app-opened", set_("type", "Application Opened")), "/events/0/type", "accepted_types"),
    ("a type that is not a string", mutate("app-opened", set_("type", 7)), "/events/0/type", "accepted_types"),
    ("no id", mutate("app-opened", delete("id")), "/events/0/id", "required"),
    ("an empty id", mutate("app-opened", set_("id", "")), "/events/0/id", "at least 1 character"),
    ("a numeric id", mutate("app-opened", set_("id", 17)), "/events/0/id", "valid string"),
    ("no timestamp", mutate("app-opened", delete("timestamp")), "/events/0/timestamp", "required"),
    ("a timestamp without zone", mutate("app-opened", set_("timestamp", "2024-01-15T10:30:00")), "/events/0/timestamp", "RFC 3339"),
    ("a date only", mutate("app-opened", set_("timestamp", "2024-01-15")), "/events/0/timestamp", "RFC 3339"),
    ("unix seconds", mutate("app-opened", set_("timestamp", 1705314600)), "/events/0/timestamp", "RFC 3339"),
    ("unix seconds as text", mutate("app-opened", set_("timestamp", "1705314600")), "/events/0/timestamp", "RFC 3339"),
    ("a space for T", mutate("app-opened", set_("timestamp", "2024-01-15 10:30:00Z")), "/events/0/timestamp", "RFC 3339"),
    ("lower-case z", mutate("app-opened", set_("timestamp", "2024-01-15T10:30:00z")), "/events/0/timestamp", "RFC 3339"),
    ("30 February", mutate("app-opened", set_("timestamp", "2024-02-30T10:30:00Z")), "/events/0/timestamp", "not a real date"),
    ("a leap second", mutate("app-opened", set_("timestamp", "2016-12-31T23:59:60Z")), "/events/0/timestamp", "RFC 3339"),
    ("the year 2100", mutate("app-opened", set_("timestamp", "2100-01-01T00:00:00Z")), "/events/0/timestamp", "RFC 3339"),
    ("ten fraction digits", mutate("app-opened", set_("timestamp", "2024-01-15T10:30:00.1234567891Z")), "/events/0/timestamp", "RFC 3339"),
    ("null for an optional field", mutate("app-opened", set_("url", None)), "/events/0", "leave out url"),
    ("null inside an object", mutate("app-opened", set_("app/build", None)), "/events/0/app", "leave out build"),
    ("an unknown field", mutate("app-opened", set_("userId", "user_12345")), "/events/0/userId", "not a field"),
    ("a field of another type", mutate("app-backgrounded", set_("from_background", True)), "/events/0/from_background", "not a field"),
    ("an unknown nested field", mutate("app-opened", set_("app/name", "Acme")), "/events/0/app/name", "not a field"),
    ("from_background as a string", mutate("app-opened", set_("from_background", "true")), "/events/0/from_background", "valid boolean"),
    ("a numeric build", mutate("app-opened", set_("app/build", 421)), "/events/0/app/build", "valid string"),
    ("app without version", mutate("app-opened", delete("app/version")), "/events/0/app/version", "required"),
    ("app as a string", mutate("app-opened", set_("app", "2.1.0")), "/events/0/app", "must be an object"),
    ("app.updated without previous_app", mutate("app-updated", delete("previous_app")), "/events/0/previous_app", "required"),
    ("app.updated without app", mutate("app-updated", delete("app")), "/events/0/app", "required"),
    ("a reserved custom property", mutate("app-crashed", set_("properties", {"build": "9"})), "/events/0/properties", "contract's own names: build"),
    ("properties not an object", mutate("user-deleted", set_("properties", ["a"])), "/events/0/properties", "must be an object"),
    ("properties on a device event", mutate("device-registered", set_("properties", {})), "/events/0/properties", "not a field"),
    ("no device", mutate("device-registered", delete("device")), "/events/0/device", "required"),
    ("no platform on a registration", mutate("device-registered", delete("device/platform")), "/events/0/device/platform", "required"),
    ("a platform Customer.io does not know", mutate("device-registered", set_("device/platform", "web")), "/events/0/device/platform", "'ios' or 'android'"),
    ("an empty token", mutate("device-removed", set_("device/token", "")), "/events/0/device/token", "at least 1 character"),
    ("no object", mutate("relationship-deleted", delete("object")), "/events/0/object", "required"),
    ("type_id 0", mutate("relationship-deleted", set_("object/type_id", 0)), "/events/0/object/type_id", "greater than or equal to 1"),
    ("type_id 1.5", mutate("relationship-deleted", set_("object/type_id", 1.5)), "/events/0/object/type_id", "valid integer"),
    ("type_id as a string", mutate("relationship-deleted", set_("object/type_id", "1")), "/events/0/object/type_id", "valid integer"),
    ("type_id true", mutate("relationship-deleted", set_("object/type_id", True)), "/events/0/object/type_id", "valid integer"),
    ("objectId spelled the Customer.io way", mutate("object-deleted", set_("object", {"objectId": "acme"})), "/events/0/object/id", "required"),
    ("no delivery id", mutate("delivery-metric", delete("delivery/id")), "/events/0/delivery/id", "required"),
    ("a metric Report Delivery Event cannot carry", mutate("delivery-metric", set_("delivery/metric", "bounced")), "/events/0/delivery/metric", "'delivered', 'opened', 'clicked' or 'converted'"),
    ("actionValue spelled the Customer.io way", mutate("delivery-metric", set_("delivery/actionValue", "x")), "/events/0/delivery/actionValue", "not a field"),
]


@pytest.mark.parametrize(("what", "body", "path", "fragment"), INVALID, ids=[case[0] for case in INVALID])
def test_a_request_that_breaks_the_contract_is_refused_by_the_module_and_the_schema(what: str, body: Any, path: str, fragment: str) -> None:
    found = problems(body)
    assert found and found[0][0] == path and fragment in found[0][1], found
    if not isinstance(body, bytes):
        assert schema_errors(body), f"the schema accepts {what}"


def test_duplicate_ids_within_a_request_are_refused() -> None:
    first, second = sample_event("app-opened"), sample_event("app-backgrounded")
    body = envelope(first, {**second, "id": first["id"]})
    assert problems(body) == [("/events/1/id", "repeats the id of /events/0; every event needs its own id")]
    assert not schema_errors(body)  # documented: JSON Schema cannot say this, the schema's description does
    assert "unique within a request" in SCHEMA["description"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"version": 1, "version": 1, "events": []}', "repeats a key"),
        (b'{"version": 1, "events": [{"type": "app.opened", "type": "app.crashed"}]}', "repeats a key"),
        (b'{"version": NaN, "events": []}', "NaN is not JSON"),
        (b'{"version": 1, "events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nests JSON too deeply"),
        (b'{"version": 1, "events": [{"id": ' + b"9" * 5000 + b"}]}", "not JSON this endpoint can read"),
    ],
)
def test_json_the_contract_does_not_take(raw: bytes, fragment: str) -> None:
    with pytest.raises(ContractViolation, match=re.escape(fragment)) as caught:
        parse_contract(raw)
    assert caught.value.code == "invalid_json"


def test_every_problem_of_a_request_is_listed() -> None:
    body = envelope(
        mutate("app-opened", delete("timestamp"))["events"][0],
        mutate("app-opened", set_("type", "app.launched"))["events"][0] | {"id": "x"},
        "junk",
        mutate("device-registered", set_("device/platform", "web"))["events"][0],
    )
    assert [path for path, _ in problems(body)] == ["/events/0/timestamp", "/events/1/type", "/events/2", "/events/3/device/platform"]


def test_at_most_twenty_problems_are_listed() -> None:
    body = envelope(*[{"type": "nope", "id": str(i)} for i in range(50)])
    with pytest.raises(ContractViolation) as caught:
        parse_contract(encode(body))
    assert len(caught.value.problems) == backend.MAX_PROBLEMS == 20
    assert "(+45 more)" in str(caught.value)  # the message counts all of them


def test_problem_reports_never_repeat_the_values_sent() -> None:
    secret_token, person = "tok-" + "S3CR3T" * 8, "someone@example.com"
    body = envelope(
        {"type": "device.registered", "id": person, "timestamp": person, "user_id": 5, "device": {"token": secret_token, "platform": person}},
        {"type": person, "id": "x"},
        {"type": "app.crashed", "id": "y", "timestamp": T, "user_id": person, "properties": {"url": secret_token}, "app": {"version": person, "build": 7}},
    )
    with pytest.raises(ContractViolation) as caught:
        parse_contract(encode(body))
    text = json.dumps(caught.value.body()) + str(caught.value)
    assert secret_token not in text and person not in text and "S3CR3T" not in text, text


def test_a_customerio_reporting_metric_key_inside_the_contract_is_not_mistaken_for_a_loop() -> None:
    # The loop guard looks at the top level only: a delivery's metric is the contract's own field.
    assert customerio_webhook(request(sample_bytes("delivery-metric"))) is None


# ---- the published JSON Schema and the module agree -----------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["properties"]["events"]["maxItems"] == backend.MAX_EVENTS
    assert SCHEMA["$defs"]["timestamp"]["pattern"] == backend.TIMESTAMP_PATTERN
    assert set(SCHEMA["$defs"]["app_properties"]["propertyNames"]["not"]["enum"]) == backend.RESERVED_APP_PROPERTIES


def test_the_schema_knows_exactly_the_modules_types() -> None:
    assert SCHEMA["$defs"]["event"]["properties"]["type"]["enum"] == list(EVENT_TYPES)
    assert {branch["if"]["properties"]["type"]["const"] for branch in SCHEMA["$defs"]["event"]["allOf"]} == set(EVENT_TYPES)
    for name, model in EVENT_TYPES.items():
        definition = SCHEMA["$defs"][name]
        assert set(definition["properties"]) == set(model.model_fields), name
        assert set(definition["required"]) == {f for f, info in model.model_fields.items() if info.is_required()}, name
        assert definition["title"].endswith(f"-> {model.cio_event.name}")


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_is_valid_for_the_schema_and_the_module(name: str) -> None:
    assert schema_errors(sample(name)) == []
    assert problems(sample_bytes(name)) == []


def test_the_schemas_examples_are_the_samples_and_valid_in_both() -> None:
    examples = {name: SCHEMA["$defs"][name]["examples"] for name in EVENT_TYPES}
    from_samples: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(EXPECTED, key=lambda n: f"{n}.json"):  # the order of the files, as the schema lists them
        from_samples.setdefault(sample_event(name)["type"], []).append(sample_event(name))
    assert examples == from_samples
    for events in examples.values():
        for event in events:
            assert schema_errors(envelope(event)) == [] and problems(envelope(event)) == []


# Values and field names the mutations below draw from: near misses of every rule of the contract.
VALUES: list[Any] = [
    None, True, False, 0, 1, 2, -1, 1.0, 2.0, 1.5, 10**20, "", "x", "ios", "android", "web", "opened", "bounced", "sent",
    "2024-01-15T10:30:00Z", "2024-01-15T10:30:00.5+05:30", "2024-01-15T10:30:00", "2024-02-30T10:30:00Z", "2024-02-29T10:30:00Z",
    "2023-02-29T10:30:00Z", "2024-01-15T24:00:00Z", "2024-01-15T10:30:00+24:00", "1899-12-31T23:59:59Z", "1705314600",
    *EVENT_TYPES, "app.launched", [], ["x"], {}, {"x": 1}, {"version": "2.1.0"}, {"version": "2.1.0", "build": 421},
    {"token": "t", "platform": "ios"}, {"token": "t"}, {"id": "acme"}, {"id": "acme", "type_id": 2}, {"id": "d", "metric": "opened"},
    {"url": "u"}, {"build": None},
]  # fmt: skip
# Near misses of a value, by its JSON type: what a buggy backend sends instead.
NEAR_MISSES: dict[type, list[Any]] = {
    str: ["", 7, None, "web", "bounced", "app.launched"],
    bool: ["true", 1, 0, None],
    int: [0, -1, 1.5, 2.0, "1", True, None, 10**20],
    dict: [[], "x", {}, {"x": 1}, None],
    list: [[], {}, "x", ["x"], None],
}
TIMESTAMP_MISSES: list[Any] = [
    "2024-01-15T10:30:00", "2024-02-30T10:30:00Z", "2024-01-15T10:30:00z", "2024-01-15 10:30:00Z", "2100-01-01T00:00:00Z",
    "2016-12-31T23:59:60Z", "2024-01-15T10:30:00.1234567891Z", "2024-01-15T10:30:00+24:00", "2024-02-29T23:59:59.999999-23:59", 1705314600,
]
FIELD_NAMES = sorted({name for d in SCHEMA["$defs"].values() for name in d.get("properties", {})} | {"version", "events", "userId", "extra"})


def _objects(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        yield path
        for key, value in node.items():
            yield from _objects(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, (*path, index))


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _values_by_key() -> dict[str, list[Any]]:
    """Every value each field name has somewhere in the samples: plausible replacements."""
    seen: dict[str, list[Any]] = {}
    for name in SAMPLE_NAMES:
        document = sample(name)
        for path in _objects(document):
            for key, value in _at(document, path).items():
                if value not in seen.setdefault(key, []):
                    seen[key].append(value)
    return seen


PLAUSIBLE = _values_by_key()


def _mutated(rng: random.Random, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with one or two edits: a field removed, or set to a near miss or a plausible value."""
    document = copy.deepcopy(document)
    for _ in range(rng.randint(1, 2)):
        target = _at(document, rng.choice(list(_objects(document))))
        keys = sorted(target)
        operation = rng.choice(["delete", "near miss", "plausible", "add"])  # "add" draws from VALUES
        key = rng.choice(keys) if keys and operation != "add" else rng.choice(FIELD_NAMES)
        if operation == "delete" and keys:
            del target[key]
        elif operation == "near miss":
            target[key] = copy.deepcopy(rng.choice(NEAR_MISSES.get(type(target.get(key)), VALUES)))
        elif operation == "add":
            target[key] = copy.deepcopy(rng.choice(VALUES))
        else:
            target[key] = copy.deepcopy(rng.choice(PLAUSIBLE.get(key) or VALUES))
    return document


def _has_duplicate_ids(document: Any) -> bool:
    events = document.get("events") if isinstance(document, dict) else None
    found = [e["id"] for e in events if isinstance(e, dict) and isinstance(e.get("id"), str)] if isinstance(events, list) else []
    return len(found) != len(set(found))


def _single_edits(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every one-edit variant of ``document``: each field removed, set to each near miss of its JSON
    type or to a few values that field has elsewhere; each known field name added to the event, and
    a few names to every other object."""
    for path in _objects(document):
        target = _at(document, path)
        for key in sorted(target):
            misses = TIMESTAMP_MISSES if key == "timestamp" else NEAR_MISSES.get(type(target[key]), [])
            for replacement in [_DELETE, *misses, *PLAUSIBLE.get(key, [])[:3]]:
                edited = copy.deepcopy(document)
                if replacement is _DELETE:
                    del _at(edited, path)[key]
                else:
                    _at(edited, path)[key] = copy.deepcopy(replacement)
                yield edited
        is_event = len(path) == 2 and path[0] == "events"
        for key in FIELD_NAMES if is_event else ["extra", "id", "version", "token", "metric"]:
            if key not in target:
                edited = copy.deepcopy(document)
                _at(edited, path)[key] = copy.deepcopy(PLAUSIBLE.get(key, ["x"])[0])
                yield edited


_DELETE = object()


def _agree(document: Any) -> bool:
    """Assert the schema and the module give ``document`` the same verdict; return it."""
    module_ok, schema_ok = not problems(document), not schema_errors(document)
    if _has_duplicate_ids(document):
        assert not module_ok  # stricter by design (see the duplicate-id test)
        return False
    assert module_ok == schema_ok, (document, problems(document), schema_errors(document))
    return module_ok


@pytest.mark.parametrize("name", sorted(EXPECTED))  # the batch is its seven events again: left to the random test
def test_schema_and_module_agree_on_every_single_edit_of_a_sample(name: str) -> None:
    verdicts = [_agree(edited) for edited in _single_edits(sample(name))]
    assert verdicts.count(True) >= 5 and verdicts.count(False) >= 20, (verdicts.count(True), verdicts.count(False))


@pytest.mark.parametrize("seed", range(2))
def test_schema_and_module_agree_on_randomly_edited_requests(seed: int) -> None:
    """Random one or two edits of random samples: combinations the single edits do not reach."""
    rng = random.Random(seed)
    documents = [sample(name) for name in SAMPLE_NAMES]
    verdicts = [_agree(_mutated(rng, rng.choice(documents))) for _ in range(300)]
    assert verdicts.count(True) >= 30 and verdicts.count(False) >= 30, (verdicts.count(True), verdicts.count(False))


def test_the_schemas_objects_mirror_the_models() -> None:
    """Fields, required fields, enumerations and bounds: the schema says what the models check."""
    pairs = {
        "app": backend.AppBuild, "registered_device": backend.RegisteredDevice, "removed_device": backend.RemovedDevice,
        "object": backend.ObjectReference, "delivery": backend.Delivery,
    }  # fmt: skip
    for name, model in pairs.items():
        definition = SCHEMA["$defs"][name]
        assert set(definition["properties"]) == set(model.model_fields), name
        assert set(definition["required"]) == {f for f, info in model.model_fields.items() if info.is_required()}, name
        assert definition["additionalProperties"] is False
    device_platforms = set(typing.get_args(backend.Platform))
    assert set(SCHEMA["$defs"]["registered_device"]["properties"]["platform"]["enum"]) == device_platforms == {"ios", "android"}
    assert set(SCHEMA["$defs"]["removed_device"]["properties"]["platform"]["enum"]) == device_platforms
    metrics = set(typing.get_args(backend.Delivery.model_fields["metric"].annotation))
    assert set(SCHEMA["$defs"]["delivery"]["properties"]["metric"]["enum"]) == metrics == {"delivered", "opened", "clicked", "converted"}
    assert SCHEMA["$defs"]["object"]["properties"]["type_id"] == {**SCHEMA["$defs"]["object"]["properties"]["type_id"], "type": "integer", "minimum": 1}


# ---- the 400 path through ingest ------------------------------------------------------------------


def test_a_valid_signed_request_is_queued_and_acknowledged_202() -> None:
    pipeline = ingest()
    outcome = pipeline.handle("backend", signed(sample_bytes("batch"), received=NOW + 1))
    assert (outcome.status, outcome.body, outcome.result) == (202, {"accepted": 7, "ignored": 0}, "queued")
    events = queued_events(pipeline.delivery_queue)
    assert events == translate(sample_bytes("batch"))
    assert pipeline.dead_letter_queue.approximate_depth() == 0


def answer(outcome: Outcome) -> dict[str, Any]:
    return json.loads(outcome.response_body())


def test_an_unknown_type_is_answered_400_with_the_accepted_types(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = ingest()
    body = envelope(sample_event("app-backgrounded"), {**sample_event("app-opened"), "type": "app.launched"})
    with caplog.at_level(logging.WARNING):
        outcome = pipeline.handle("backend", signed(body))
    assert (outcome.status, outcome.content_type) == (400, "application/json")
    report = answer(outcome)
    assert report["error"] == "invalid_request"
    assert report["problems"] == [{"path": "/events/1/type", "message": "is not an event type of this version (see accepted_types)"}]
    assert report["accepted_types"] == sorted(EVENT_TYPES) and len(report["accepted_types"]) == 15
    assert report["accepted_versions"] == [1]
    # Whole or nothing: the valid first event was not queued either, and nothing went to the DLQ.
    assert pipeline.delivery_queue.approximate_depth() == 0 and pipeline.dead_letter_queue.approximate_depth() == 0
    assert "/events/1/type" in caplog.text and "user_12345" not in caplog.text


def test_an_unknown_version_is_answered_400_unsupported_version() -> None:
    outcome = ingest().handle("backend", signed({"version": 2, "events": [sample_event("app-opened")]}))
    assert outcome.status == 400 and answer(outcome)["error"] == "unsupported_version" and answer(outcome)["accepted_versions"] == [1]


def test_invalid_json_is_answered_400_invalid_json() -> None:
    outcome = ingest().handle("backend", signed(b'{"version": 1, "events": [}'))
    assert outcome.status == 400 and answer(outcome)["error"] == "invalid_json"


def test_the_400_check_runs_only_after_authentication() -> None:
    body = envelope({**sample_event("app-opened"), "type": "app.launched"})
    outcome = ingest().handle("backend", request(body))  # unsigned
    assert (outcome.status, outcome.body) == (401, {"error": "unauthorized"})


def test_a_bug_in_the_check_falls_back_to_the_dead_letter_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(body: bytes) -> list[Any]:
        raise TypeError("a bug of ours")

    monkeypatch.setattr(backend, "parse_contract", broken)
    pipeline = ingest()
    outcome = pipeline.handle("backend", signed(sample_bytes("app-opened")))
    assert 200 <= outcome.status < 300 and outcome.result == "dead_lettered"  # kept, not lost: no reason to retry
    assert pipeline.dead_letter_queue.approximate_depth() == 1


def test_translate_alone_still_refuses_for_replays_and_the_cli() -> None:
    with pytest.raises(ContractViolation, match=r"/events/0/type"):
        source().translate(request(envelope({**sample_event("app-opened"), "type": "app.launched"})))


def test_the_refusal_is_typed_and_the_source_no_longer_translates_twice() -> None:
    """Style item 3: the 400 is a ``Refused`` raised by ``translate`` and answered by ingest;
    ``Backend`` has no ``reply_after_accept`` of its own that translates just to decide it."""
    assert issubclass(ContractViolation, Refused) and issubclass(ContractViolation, InvalidPayload)
    assert "reply_after_accept" not in Backend.__dict__


# ---- replays: same webhook-id, same messageIds ----------------------------------------------------


def test_a_replayed_request_is_harmless_because_message_ids_are_deterministic() -> None:
    """The same signed request twice (same webhook-id, inside the window) queues the same events twice.

    The replay store accepts the same webhook-id with the same body (tests/security/test_replays.py
    refuses it with another body): downstream de-duplication on messageId makes the second copy a no-op.
    A resend under a new webhook-id and timestamp gives the same messageIds too.
    """
    pipeline = ingest()
    first = signed(sample_bytes("batch"), msg_id="msg_replayed", at=NOW)
    replayed = signed(sample_bytes("batch"), msg_id="msg_replayed", at=NOW, received=NOW + 10)
    assert replayed.headers == first.headers and replayed.body == first.body
    assert pipeline.handle("backend", first).status == 202
    assert pipeline.handle("backend", replayed).status == 202  # the same bytes and headers, 10 s later: inside the window
    resent = signed(sample_bytes("batch"), msg_id="msg_resent", at=NOW + 60)
    assert pipeline.handle("backend", resent).status == 202
    queued = queued_events(pipeline.delivery_queue)
    ids_per_copy = [sorted(e["messageId"] for e in queued[i : i + 7]) for i in (0, 7, 14)]
    assert len(queued) == 21 and ids_per_copy[0] == ids_per_copy[1] == ids_per_copy[2]
    assert queued[:7] == queued[7:14] == queued[14:]


# ---- Standard Webhooks ----------------------------------------------------------------------------


def test_the_official_standard_webhooks_vector_verifies_and_is_reproduced() -> None:
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP), "webhook-signature": VECTOR_SIGNATURE}
    backend_source = source(BACKEND_SIGNING_SECRET=VECTOR_SECRET)
    backend_source.authenticate(request(VECTOR_PAYLOAD, headers, received=VECTOR_TIMESTAMP + 10))
    assert standard_webhooks.verify(request(VECTOR_PAYLOAD, headers, received=VECTOR_TIMESTAMP), VECTOR_SECRET, secret_name="X", tolerance_seconds=0) == VECTOR_ID
    assert standard_webhooks.signature_headers(VECTOR_SECRET, VECTOR_PAYLOAD, VECTOR_ID, VECTOR_TIMESTAMP)["webhook-signature"] == VECTOR_SIGNATURE
    with pytest.raises(Unauthorized, match="does not match"):
        backend_source.authenticate(request(VECTOR_PAYLOAD + b" ", headers, received=VECTOR_TIMESTAMP))


def test_a_signed_sample_round_trips_through_the_source_and_a_base64_function_url_body() -> None:
    made = signed(sample_bytes("app-opened"), received=NOW + 5)
    event = made.to_function_url_event()
    event["body"], event["isBase64Encoded"] = base64.b64encode(made.body).decode(), True  # as Lambda may deliver it
    arrived = WebhookRequest.from_function_url_event(event)
    backend_source = source(BACKEND_SIGNING_SECRET=LOCAL_SECRET)
    backend_source.authenticate(arrived)
    assert [e.name for e in backend_source.translate(arrived).events] == ["Application Opened"]


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def with_header(made: WebhookRequest, name: str, value: str | None) -> WebhookRequest:
    headers = {k: v for k, v in made.headers.items() if k != name}
    if value is not None:
        headers[name] = value
    return WebhookRequest(made.method, made.path, made.body, headers, received_at=made.received_at)


def with_body(made: WebhookRequest, body: bytes) -> WebhookRequest:
    return WebhookRequest(made.method, made.path, body, made.headers, received_at=made.received_at)


GOOD = signed(sample_bytes("app-opened"))
OTHER_BODY = sample_bytes("app-crashed")


@pytest.mark.parametrize(
    ("forged", "reason"),
    [
        pytest.param(with_body(GOOD, flip_last_byte(GOOD.body)), "does not match", id="tampered body"),
        pytest.param(with_body(GOOD, GOOD.body.replace(b"user_12345", b"user_12346")), "does not match", id="edited user"),
        pytest.param(with_body(GOOD, json.dumps(json.loads(GOOD.body)).encode()), "does not match", id="re-serialised JSON"),
        pytest.param(with_body(GOOD, OTHER_BODY), "does not match", id="another body"),
        pytest.param(with_header(GOOD, "webhook-id", "msg_other"), "does not match", id="other webhook-id"),
        pytest.param(with_header(GOOD, "webhook-timestamp", str(NOW + 1)), "does not match", id="other timestamp"),
        pytest.param(signed(sample_bytes("app-opened"), secret=OTHER_SECRET), "does not match", id="other secret"),
        pytest.param(with_header(GOOD, "webhook-signature", GOOD.headers["webhook-signature"].replace("v1,", "v1a,")), "does not match", id="v1a label"),
        pytest.param(with_header(GOOD, "webhook-signature", "v1,not base64!"), "does not match", id="not base64"),
        pytest.param(with_header(GOOD, "webhook-signature", GOOD.headers["webhook-signature"].removeprefix("v1,")), "does not match", id="no version"),
        pytest.param(with_header(GOOD, "webhook-id", None), "missing Standard Webhooks header\\(s\\): webhook-id$", id="no id"),
        pytest.param(with_header(GOOD, "webhook-timestamp", None), "webhook-timestamp$", id="no timestamp"),
        pytest.param(with_header(GOOD, "webhook-signature", None), "webhook-signature$", id="no signature"),
        pytest.param(with_header(GOOD, "webhook-signature", ""), "webhook-signature$", id="empty signature"),
        pytest.param(with_header(GOOD, "webhook-id", "msg.1"), "must not contain", id="a dot in the id"),
        pytest.param(with_header(GOOD, "webhook-timestamp", "1705314600.0"), "not unix seconds", id="fractional timestamp"),
        pytest.param(with_header(GOOD, "webhook-timestamp", "-1705314600"), "not unix seconds", id="negative timestamp"),
        pytest.param(with_header(GOOD, "webhook-timestamp", "9" * 40), "not unix seconds", id="huge timestamp"),
        pytest.param(with_body(GOOD, b"\xff{}"), "not UTF-8", id="binary body"),
    ],
)
def test_forged_or_malformed_requests_are_refused(forged: WebhookRequest, reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason) as caught:
        source(BACKEND_SIGNING_SECRET=LOCAL_SECRET).authenticate(forged)
    text = str(caught.value)
    assert LOCAL_SECRET not in text and GOOD.headers["webhook-signature"] not in text


def test_a_binary_body_can_be_signed_by_nobody() -> None:
    with pytest.raises(UnicodeDecodeError):
        signed(b"\xff{}")


@pytest.mark.parametrize("offset", [-301, 301, -86400, 86400])
def test_a_timestamp_outside_the_window_is_refused(offset: int) -> None:
    stale = signed(sample_bytes("app-opened"), at=NOW, received=NOW + offset)
    with pytest.raises(Unauthorized, match="more than 300 s from the time of receipt"):
        source(BACKEND_SIGNING_SECRET=LOCAL_SECRET).authenticate(stale)


@pytest.mark.parametrize("offset", [-300, 0, 299, 300])
def test_a_timestamp_inside_the_window_is_accepted(offset: int) -> None:
    source(BACKEND_SIGNING_SECRET=LOCAL_SECRET).authenticate(signed(sample_bytes("app-opened"), at=NOW, received=NOW + offset))


def test_the_window_is_configurable() -> None:
    late = signed(sample_bytes("app-opened"), at=NOW, received=NOW + 3600)
    with pytest.raises(Unauthorized):
        source(BACKEND_SIGNING_SECRET=LOCAL_SECRET).authenticate(late)
    source(BACKEND_SIGNING_SECRET=LOCAL_SECRET, BACKEND_TOLERANCE_SECONDS="3600").authenticate(late)
    with pytest.raises(NotConfigured, match="must not be negative"):
        source(BACKEND_SIGNING_SECRET=LOCAL_SECRET, BACKEND_TOLERANCE_SECONDS="-1").authenticate(late)


def test_a_stale_request_against_the_real_clock_is_refused() -> None:
    made = signed(sample_bytes("app-opened"), at=NOW)
    received_now = WebhookRequest(made.method, made.path, made.body, made.headers)  # received_at: the clock
    with pytest.raises(Unauthorized, match="from the time of receipt"):
        source(BACKEND_SIGNING_SECRET=LOCAL_SECRET).authenticate(received_now)


def test_no_secret_fails_closed() -> None:
    with pytest.raises(NotConfigured, match="BACKEND_SIGNING_SECRET is not configured"):
        source().authenticate(GOOD)
    outcome = Ingest("mobile", MemoryQueue(), MemoryQueue(), Settings({"CIOHOOKS_SOURCES": "backend"})).handle("backend", GOOD)  # listed: fail closed
    assert (outcome.status, outcome.body) == (503, {"error": "source not configured"})


def test_a_wrong_signature_is_answered_401_and_nothing_is_queued() -> None:
    pipeline = ingest()
    outcome = pipeline.handle("backend", signed(sample_bytes("app-opened"), secret=OTHER_SECRET))
    assert (outcome.status, outcome.body) == (401, {"error": "unauthorized"})
    assert pipeline.delivery_queue.approximate_depth() == 0 and pipeline.dead_letter_queue.approximate_depth() == 0


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("whsec_not*base64", "not a Standard Webhooks secret"),
        ("whsec_" + base64.b64encode(b"x" * 23).decode(), "shorter than 24 bytes"),
        (" , ", "is empty"),
    ],
)
def test_a_secret_that_is_not_a_standard_webhooks_secret_is_a_configuration_error(secret: str, reason: str) -> None:
    with pytest.raises(NotConfigured, match=reason) as caught:
        source(BACKEND_SIGNING_SECRET=secret).authenticate(GOOD)
    assert "not*base64" not in str(caught.value)


def test_secrets_without_prefix_or_padding_are_read() -> None:
    unpadded = LOCAL_SECRET.removeprefix("whsec_").rstrip("=")
    source(BACKEND_SIGNING_SECRET=unpadded).authenticate(GOOD)


def test_rotation_on_either_side() -> None:
    # Receiver side: two secrets configured, a request signed with either verifies.
    both = f"{OTHER_SECRET}, {LOCAL_SECRET}"
    source(BACKEND_SIGNING_SECRET=both).authenticate(GOOD)
    source(BACKEND_SIGNING_SECRET=both).authenticate(signed(sample_bytes("app-opened"), secret=OTHER_SECRET))
    # Sender side: two signatures, one made with a secret the endpoint does not know.
    other = signed(sample_bytes("app-opened"), secret=OTHER_SECRET).headers["webhook-signature"]
    two = with_header(GOOD, "webhook-signature", f"{other} {GOOD.headers['webhook-signature']}")
    source(BACKEND_SIGNING_SECRET=LOCAL_SECRET).authenticate(two)


def test_allow_unsigned_accepts_with_a_loud_warning_only_without_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ciohooks.sources.mobile.backend"):
        source(ALLOW_UNSIGNED="true").authenticate(request(sample_bytes("app-opened")))
    assert "UNSIGNED" in caplog.text and "user_12345" not in caplog.text
    with pytest.raises(Unauthorized):
        source(BACKEND_SIGNING_SECRET=LOCAL_SECRET, ALLOW_UNSIGNED="true").authenticate(request(sample_bytes("app-opened")))


def test_sign_keeps_a_given_webhook_id_and_derives_one_otherwise() -> None:
    assert signed(sample_bytes("app-opened"), msg_id="msg_mine").headers["webhook-id"] == "msg_mine"
    derived = signed(sample_bytes("app-opened")).headers["webhook-id"]
    assert derived == signed(sample_bytes("app-opened")).headers["webhook-id"] != signed(sample_bytes("app-crashed")).headers["webhook-id"]
    assert derived.startswith("msg_") and "." not in derived


# ---- never re-emit Customer.io's own webhooks -------------------------------------------------------

# The shape of a Customer.io reporting webhook (event_id, object_type, metric, timestamp, data) as
# Customer.io's Reporting Webhooks reference describes it and PostHog's Customer.io webhook source
# tests it (PostHog/posthog posthog/temporal/data_imports/sources/customer_io/tests/test_webhook_template.py
# @069d5b06245151aa0f2ea25c74886ba908869e34).
REPORTING_WEBHOOK = {"event_id": "01E2EMRMM6TZ12ZNQDWQ12", "object_type": "push", "metric": "delivered", "timestamp": 1699999999, "data": {"delivery_id": "RPILAgUBcRhIBqSfeiIwdIYJKxTY"}}


@pytest.mark.parametrize(
    ("made", "why"),
    [
        pytest.param(with_header(GOOD, "x-cio-signature", "ab" * 32), "x-cio-signature", id="signed contract with x-cio-signature"),
        pytest.param(with_header(GOOD, "x-cio-timestamp", str(NOW)), "x-cio-signature", id="signed contract with x-cio-timestamp"),
        pytest.param(signed(encode(REPORTING_WEBHOOK)), "shape of a Customer.io reporting webhook", id="reporting webhook body, Standard-Webhooks-signed"),
        pytest.param(request(encode([REPORTING_WEBHOOK, REPORTING_WEBHOOK])), "shape of a Customer.io reporting webhook", id="array of them, unsigned"),
        pytest.param(request(encode(REPORTING_WEBHOOK), {"x-cio-signature": "ab" * 32, "x-cio-timestamp": str(NOW)}), "x-cio-signature", id="as Customer.io sends it"),
    ],
)
def test_customerio_webhooks_are_refused_before_anything_else(made: WebhookRequest, why: str, caplog: pytest.LogCaptureFixture) -> None:
    for env in ({}, {"ALLOW_UNSIGNED": "true"}):  # even a valid signature or an open endpoint does not let them in
        pipeline = ingest(**env)
        with caplog.at_level(logging.WARNING, logger="ciohooks.sources._customerio_loop"):
            outcome = pipeline.handle("backend", made)
        assert outcome.status == 200 and answer(outcome)["accepted"] == 0
        assert why in answer(outcome)["reason"] and "loop guard" in caplog.text
        assert pipeline.delivery_queue.approximate_depth() == 0 and pipeline.dead_letter_queue.approximate_depth() == 0


# ---- the example senders ---------------------------------------------------------------------------

send_py = runpy.run_path(str(EXAMPLES / "send.py"))


def authenticate_headers(body: bytes, headers: dict[str, str], received: float | None = None) -> None:
    made = WebhookRequest("POST", "/backend", body, {k.lower(): v for k, v in headers.items()}, received_at=datetime.fromtimestamp(received or time.time(), UTC))
    source(BACKEND_SIGNING_SECRET=LOCAL_SECRET).authenticate(made)


def test_send_py_headers_verify_against_the_module() -> None:
    body = sample_bytes("batch")
    headers = send_py["signed_headers"](LOCAL_SECRET, body, "msg_example", NOW)
    assert headers["content-type"] == "application/json" and headers["webhook-id"] == "msg_example"
    authenticate_headers(body, headers, received=NOW)
    fresh = send_py["signed_headers"](LOCAL_SECRET, body)  # a fresh id and the current time
    assert fresh["webhook-id"].startswith("msg_") and fresh["webhook-id"] != send_py["signed_headers"](LOCAL_SECRET, body)["webhook-id"]
    authenticate_headers(body, fresh)


def test_send_py_reproduces_the_worked_example_of_the_docs() -> None:
    body = b'{"version":1,"events":[{"type":"app.opened","id":"evt_1","timestamp":"2024-01-15T10:30:00Z","user_id":"user_12345"}]}'
    headers = send_py["signed_headers"](VECTOR_SECRET, body, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", NOW)
    assert headers["webhook-signature"] == "v1,fUeAGMeA2M2DJnlVU0UKzy6FCByg7Lugm9URIexpz+Y="
    doc = DOC.read_text("utf-8")
    assert body.decode() in doc and headers["webhook-signature"] in doc
    assert base64.b64decode(VECTOR_SECRET.removeprefix("whsec_")).hex() in doc
    assert problems(body) == []


def test_send_py_dry_run_prints_headers_that_verify(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKEND_SIGNING_SECRET", LOCAL_SECRET)
    assert send_py["main"](["--dry-run", str(SAMPLES / "app-opened.json")]) == 0
    headers = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    authenticate_headers(sample_bytes("app-opened"), headers)


def test_send_py_without_a_secret_says_so(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKEND_SIGNING_SECRET", raising=False)
    assert send_py["main"](["--dry-run", str(SAMPLES / "app-opened.json")]) == 2
    assert "BACKEND_SIGNING_SECRET" in capsys.readouterr().err


class LocalEndpoint:
    """The mobile ingest on 127.0.0.1 (in-memory queues), for the example senders to post to."""

    def __init__(self) -> None:
        self.ingest = ingest()
        pipeline = self.ingest

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outcome = pipeline.handle(self.path.lstrip("/"), WebhookRequest("POST", self.path, body, headers))
                payload = outcome.response_body().encode()
                self.send_response(outcome.status)
                self.send_header("Content-Type", outcome.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backend"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_send_py_posts_to_a_local_endpoint(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKEND_SIGNING_SECRET", LOCAL_SECRET)
    with LocalEndpoint() as endpoint:
        assert send_py["main"]([endpoint.url, str(SAMPLES / "batch.json")]) == 0
        assert capsys.readouterr().out.strip() == '202 {"accepted": 7, "ignored": 0}'
        assert queued_events(endpoint.ingest.delivery_queue) == translate(sample_bytes("batch"))
        monkeypatch.setenv("BACKEND_SIGNING_SECRET", OTHER_SECRET)
        assert send_py["main"]([endpoint.url, str(SAMPLES / "batch.json")]) == 1
        assert capsys.readouterr().out.strip() == '401 {"error": "unauthorized"}'


needs_shell_tools = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("curl") and shutil.which("sh")), reason="send.sh needs sh, openssl and curl"
)


def run_send_sh(*args: str, secret: str | None = LOCAL_SECRET, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    if secret is not None:
        environment["BACKEND_SIGNING_SECRET"] = secret
    return subprocess.run(["sh", str(EXAMPLES / "send.sh"), *args], capture_output=True, text=True, env=environment, timeout=30, check=False)


@needs_shell_tools
def test_send_sh_dry_run_prints_headers_that_verify() -> None:
    done = run_send_sh("--dry-run", str(SAMPLES / "app-opened.json"), WEBHOOK_ID="msg_fixed")
    assert done.returncode == 0, done.stderr
    headers = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert headers["webhook-id"] == "msg_fixed"
    authenticate_headers(sample_bytes("app-opened"), headers)
    # The same signature send.py (the standardwebhooks package) makes for that id and second.
    expected = send_py["signed_headers"](LOCAL_SECRET, sample_bytes("app-opened"), "msg_fixed", int(headers["webhook-timestamp"]))
    assert headers["webhook-signature"] == expected["webhook-signature"]


@needs_shell_tools
def test_send_sh_reads_unpadded_secrets() -> None:
    done = run_send_sh("--dry-run", str(SAMPLES / "app-opened.json"), secret=LOCAL_SECRET.rstrip("="))
    assert done.returncode == 0, done.stderr
    authenticate_headers(sample_bytes("app-opened"), dict(line.split(": ", 1) for line in done.stdout.splitlines()))


@needs_shell_tools
def test_send_sh_posts_to_a_local_endpoint() -> None:
    with LocalEndpoint() as endpoint:
        done = run_send_sh(endpoint.url, str(SAMPLES / "batch.json"))
        assert (done.returncode, done.stdout.strip()) == (0, '202 {"accepted": 7, "ignored": 0}'), done.stderr
        assert queued_events(endpoint.ingest.delivery_queue) == translate(sample_bytes("batch"))
        refused = run_send_sh(endpoint.url, str(SAMPLES / "batch.json"), secret=OTHER_SECRET)
        assert (refused.returncode, refused.stdout.strip()) == (1, '401 {"error": "unauthorized"}')


@needs_shell_tools
def test_send_sh_refuses_to_run_without_a_secret_or_a_file() -> None:
    assert run_send_sh("--dry-run", str(SAMPLES / "app-opened.json"), secret=None).returncode != 0
    assert run_send_sh("--dry-run", str(SAMPLES / "missing.json")).returncode == 2
    assert run_send_sh(str(SAMPLES / "app-opened.json")).returncode == 2  # no URL


# ---- the docs show what the code does ---------------------------------------------------------------


def doc_json_blocks() -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)]


def test_every_example_in_the_docs_is_valid_and_every_output_is_what_the_code_emits() -> None:
    blocks = doc_json_blocks()
    checked = 0
    for index, block in enumerate(blocks):
        if isinstance(block, dict) and block.get("type") in EVENT_TYPES:  # one event, followed by what it becomes
            assert schema_errors(envelope(block)) == [] and problems(envelope(block)) == []
            assert blocks[index + 1] == one(envelope(block))
            checked += 1
        elif isinstance(block, dict) and "events" in block and not problems(block):
            assert schema_errors(block) == []
    assert checked == 16  # one per type, two for delivery.metric


def test_the_docs_show_the_400_report_the_code_gives() -> None:
    blocks = doc_json_blocks()
    (bad,) = [b for b in blocks if isinstance(b, dict) and "events" in b and problems(b)]
    (report,) = [b for b in blocks if isinstance(b, dict) and "problems" in b]
    with pytest.raises(ContractViolation) as caught:
        parse_contract(encode(bad))
    assert caught.value.body() == report
    assert schema_errors(bad)


# ---- the source in the catalogue ----------------------------------------------------------------------


def test_catalog_loads_this_source() -> None:
    assert load(SOURCE_NAME) is Backend is SOURCE
    assert (Backend.family, Backend.name, Backend.methods, Backend.ack_status, Backend.secret_name) == ("mobile", "backend", ("POST",), 202, "BACKEND_SIGNING_SECRET")


def test_the_schema_file_is_inside_the_package() -> None:
    assert files("ciohooks").joinpath("schemas", backend.SCHEMA_FILE).is_file()


def test_the_schema_ships_in_the_wheel() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    assert re.search(r'ciohooks\s*=\s*\[[^\]]*"schemas/\*\.json"', pyproject)
