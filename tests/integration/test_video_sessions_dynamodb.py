"""The DynamoDB session store against moto's server (the same process the SQS fixtures start).

boto3 speaks real HTTP to it: conditional PutItem on the version, consistent GetItem, the TTL
attribute, and a whole video session translated through a source configured only by settings
(``VIDEO_SESSIONS_TABLE``, endpoint from ``AWS_ENDPOINT_URL_DYNAMODB``), with beacons processed
concurrently by several source objects, as several Lambda instances would.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.envelope import Envelope
from ciohooks.sources.video._state import PlaybackState
from ciohooks.sources.video._sweep import Sweep
from ciohooks.video_sessions import DynamoDBSessionStore, SessionConflict, SessionRecord, SessionStoreUnavailable, store_from_settings
from tests.support.spec import assert_valid_event
from tests.support.sqs_emulator import REGION

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "video"
BASE = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def dynamodb(sqs_emulator):
    """A boto3 DynamoDB client for moto's server."""
    if not sqs_emulator.alive():
        pytest.fail(f"the moto server died; its log: {sqs_emulator.log_path}")
    return boto3.client("dynamodb", endpoint_url=sqs_emulator.url, region_name=REGION)


@pytest.fixture
def table(dynamodb):
    """A fresh sessions table shaped as the template makes it (string key, TTL on expires_at, the
    sparse SweepDue index)."""
    name = f"video-sessions-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "session_key", "AttributeType": "S"}, {"AttributeName": "sweep", "AttributeType": "S"}, {"AttributeName": "sweep_due_ms", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "session_key", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "SweepDue",
            "KeySchema": [{"AttributeName": "sweep", "KeyType": "HASH"}, {"AttributeName": "sweep_due_ms", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    yield name
    dynamodb.delete_table(TableName=name)


def test_save_load_and_conditional_writes(dynamodb, table):
    store = DynamoDBSessionStore(table, ttl_seconds=3600, client=dynamodb)
    assert store.load("video/html5#s1") is None
    written = store.save(SessionRecord(key="video/html5#s1", next_seq=1, machine=PlaybackState(state="playing", snap={"position": 12.5})), 0)
    assert written.version == 1
    loaded = store.load("video/html5#s1")
    assert (loaded.version, loaded.next_seq, loaded.machine) == (1, 1, PlaybackState(state="playing", snap={"position": 12.5}))
    with pytest.raises(SessionConflict):  # a second "first" write loses
        store.save(SessionRecord(key="video/html5#s1"), 0)
    with pytest.raises(SessionConflict):  # so does a write from an outdated version
        store.save(replace(loaded, next_seq=9), 0)
    store.save(replace(loaded, next_seq=2), 1)
    with pytest.raises(SessionConflict):
        store.save(replace(loaded, next_seq=3), 1)
    item = dynamodb.get_item(TableName=table, Key={"session_key": {"S": "video/html5#s1"}})["Item"]
    assert item["version"] == {"N": "2"} and abs(int(item["expires_at"]["N"]) - (time.time() + 3600)) < 60
    assert isinstance(item["record"]["B"], bytes)  # compressed JSON, far below the 400 KB item limit
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at" and ttl["TimeToLiveStatus"] == "ENABLED"


def test_a_missing_table_is_a_store_failure_that_names_no_data(dynamodb):
    store = DynamoDBSessionStore("no-such-table", client=dynamodb)
    with pytest.raises(SessionStoreUnavailable) as caught:
        store.load("video/html5#secret-session")
    assert "ResourceNotFoundException" in str(caught.value) and "secret-session" not in str(caught.value)
    with pytest.raises(SessionStoreUnavailable):
        store.save(SessionRecord(key="video/html5#secret-session"), 0)


def _beacons(path: str, every: int) -> tuple[dict, list[dict]]:
    whole = json.loads((SAMPLES / path).read_text())
    events = whole["events"]
    head = {k: v for k, v in whole.items() if k not in ("events", "final", "seq", "sent_t")}
    chunks = [events[i:i + every] for i in range(0, len(events), every)]
    beacons = [{**head, "seq": i, "sent_t": c[-1]["t"], "events": c} for i, c in enumerate(chunks)]
    beacons[-1].update(sent_t=whole["sent_t"], final=whole.get("final", False))
    return whole, beacons


def _post(source, beacon: dict) -> list[dict]:
    received = BASE + timedelta(milliseconds=beacon["sent_t"])
    request = WebhookRequest("POST", f"/{source.name}", json.dumps(beacon).encode(), {}, received_at=received)
    return [e.to_cio() for e in source.translate(request).events]


def test_a_session_split_across_instances_and_retried_gives_the_events_of_one_beacon(sqs_emulator, table, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", sqs_emulator.url)
    settings = Settings({"CIOHOOKS_VIDEO_SESSIONS_TABLE": table, "CIOHOOKS_VIDEO_MAX_BUFFERED_BEACONS": "1000", "CIOHOOKS_VIDEO_GAP_TIMEOUT_SECONDS": "100000"})
    assert isinstance(store_from_settings(settings), DynamoDBSessionStore)
    whole, beacons = _beacons("jwplayer/ads-watch-to-end.json", every=12)
    expected = _post(sources.load("video/jwplayer")(Settings({})), whole)

    # Four "Lambda instances" (source objects sharing only the table) each take a share of the
    # beacons, some twice, at the same time as the others: beacons race for the session item.
    instances = [sources.load("video/jwplayer")(settings) for _ in range(4)]
    work = beacons + beacons[::3]
    shares = [work[i::4] for i in range(4)]
    produced: list[list[dict]] = [[] for _ in shares]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for beacon in shares[i]:
                produced[i] += _post(instances[i], beacon)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    unique = {e["messageId"]: e for out in produced for e in out}
    in_order = sources.load("video/jwplayer")(Settings({}))
    split_expected = [e for b in beacons for e in _post(in_order, b)]  # ids name the beacon: the same split
    assert sorted(unique) == sorted(e["messageId"] for e in split_expected)
    strip = lambda e: {k: v for k, v in e.items() if k != "messageId"}
    assert sorted(map(json.dumps, map(strip, unique.values()))) == sorted(map(json.dumps, map(strip, expected)))
    assert [strip(e) for e in unique.values() if e["event"] == "Video Playback Started"] == [strip(expected[0])]
    for event in unique.values():
        assert_valid_event(event)
    # every beacon received again now: only what it already produced
    again = {e["messageId"] for b in beacons for e in _post(instances[0], b)}
    assert again <= set(unique)


def test_the_sweep_finds_due_sessions_through_the_index_and_closes_their_gaps(sqs_emulator, table, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", sqs_emulator.url)
    settings = Settings({"CIOHOOKS_VIDEO_SESSIONS_TABLE": table})
    source = sources.load("video/html5")(settings)
    _, beacons = _beacons("html5/paused-seek-exit.json", every=5)
    _post(source, beacons[0])
    final = beacons[-1]
    _post(source, final)  # the final beacon overtook the ones before it, which never come
    store = source.sessions
    due_at = int((BASE + timedelta(milliseconds=final["sent_t"])).timestamp() * 1000) + 30_000
    assert store.due(due_at - 1, 10) == []
    assert store.due(due_at, 10) == [source.session_key(final["session_id"])]
    queue = MemoryQueue()
    report = Sweep(settings, queue).run(now_ms=due_at)
    assert (report.sessions, report.failed) == (1, 0) and report.events > 0
    (message,) = queue.receive()
    events = Envelope.from_json(message.body).events
    assert events[-1]["event"] == "Video Playback Exited"
    for event in events:
        assert_valid_event(event)
    assert store.due(due_at + 60_000, 10) == []  # out of the sparse index once nothing waits
