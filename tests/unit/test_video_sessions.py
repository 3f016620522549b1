"""Video sessions across beacons: order, retries, duplicates, gaps, and the embedded store.

The property test splits every sample session (every player) into beacons at random places,
delivers them with random retries, and, when the limits allow waiting, in random order: the
events that come out, first occurrence of each messageId kept, must be exactly those of the whole
session sent as one beacon, with exactly one Video Playback Started. A retried beacon yields what
it yielded the first time, nothing else.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ciohooks import sources
from ciohooks.config import Settings
from ciohooks.request import WebhookRequest
from ciohooks.video_sessions import (
    EmbeddedSessionStore,
    SessionConflict,
    SessionRecord,
    SessionStoreUnavailable,
    store_from_settings,
    update,
)
from tests.support.spec import assert_valid_event

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "video"
SAMPLE_FILES = sorted(SAMPLES.glob("*/*.json"))
BASE = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)  # the session's t = 0
REPLAY_RESULTS = 8  # the default VIDEO_REPLAY_RESULTS
PATIENT = {"CIOHOOKS_VIDEO_MAX_BUFFERED_BEACONS": "1000", "CIOHOOKS_VIDEO_GAP_TIMEOUT_SECONDS": "100000"}


def deliver(source, beacon: dict[str, Any]) -> list[dict[str, Any]]:
    """Post one beacon, received at BASE + its sent_t (as if the network took no time)."""
    received = BASE + timedelta(milliseconds=beacon["sent_t"])
    request = WebhookRequest("POST", f"/{source.name}", json.dumps(beacon).encode(), {}, received_at=received)
    return [event.to_cio() for event in source.translate(request).events]


def split(whole: dict[str, Any], cuts: list[int], empty_final: bool = False) -> list[dict[str, Any]]:
    """The session as beacons cut before the given event indexes, numbered from seq 0."""
    events, head = whole["events"], {k: v for k, v in whole.items() if k not in ("events", "final", "seq", "sent_t")}
    bounds = [0, *sorted(set(cuts)), len(events)]
    chunks = [events[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
    beacons = [{**head, "seq": i, "sent_t": chunk[-1]["t"], "events": chunk} for i, chunk in enumerate(chunks)]
    beacons[-1]["sent_t"] = whole["sent_t"]
    if whole.get("final"):
        if empty_final:  # the page-hide beacon often carries nothing new
            beacons[-1]["sent_t"] = beacons[-1]["events"][-1]["t"]
            beacons.append({**head, "seq": len(beacons), "sent_t": whole["sent_t"], "final": True, "events": []})
        else:
            beacons[-1]["final"] = True
    return beacons


def new_source(name: str, environ: dict[str, str] | None = None):
    return sources.load(f"video/{name}")(Settings(environ or {}))


@pytest.fixture(scope="module")
def whole_sessions():
    """Each sample as one beacon, and what it becomes."""
    out = {}
    for path in SAMPLE_FILES:
        beacon = json.loads(path.read_text())
        events = deliver(new_source(path.parent.name), beacon)
        assert events
        for event in events:
            assert_valid_event(event)
        out[f"{path.parent.name}/{path.name}"] = (beacon, events)
    return out


@st.composite
def deliveries(draw, n_events: int, shuffle: bool):
    cuts = draw(st.lists(st.integers(min_value=1, max_value=max(1, n_events - 1)), max_size=12))
    empty_final = draw(st.booleans())
    retries = draw(st.lists(st.integers(min_value=0, max_value=40), max_size=4))
    order_seed = draw(st.randoms(use_true_random=False)) if shuffle else None
    return cuts, empty_final, retries, order_seed


@pytest.mark.parametrize("path", [f"{p.parent.name}/{p.name}" for p in SAMPLE_FILES])
@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "out-of-order"])
def test_any_split_retried_or_reordered_gives_the_same_events(path, shuffle, whole_sessions):
    whole, expected = whole_sessions[path]
    player = path.split("/")[0]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(deliveries(len(whole["events"]), shuffle))
    def check(plan):
        cuts, empty_final, retries, order = plan
        beacons = split(whole, cuts, empty_final)
        sequence = list(beacons)
        if order is not None:  # any order, the final beacon last (it closes the session: see below)
            body = [b for b in sequence if not b.get("final")]
            order.shuffle(body)
            sequence = body + [b for b in sequence if b.get("final")]
        for r in retries:  # a retry of a beacon already sent, somewhere later
            at = r % (len(sequence) + 1)
            sent = sequence[:at]
            if sent:
                sequence.insert(at, sent[r % len(sent)])
        source = new_source(player, PATIENT if shuffle else None)
        first_seen: dict[int, list[dict[str, Any]]] = {}
        produced: list[dict[str, Any]] = []
        for beacon in sequence:
            out = deliver(source, beacon)
            if beacon["seq"] in first_seen:
                # received again: what it gave the first time (while the session remembers it: the
                # VIDEO_REPLAY_RESULTS highest seqs), else nothing. Never anything new.
                remembered = beacon["seq"] in sorted(first_seen)[-REPLAY_RESULTS:]
                assert out == first_seen[beacon["seq"]] if remembered else out in ([], first_seen[beacon["seq"]])
            else:
                first_seen[beacon["seq"]] = out
            produced += out
        seen, ordered = set(), []
        for event in produced:
            if event["messageId"] not in seen:
                seen.add(event["messageId"])
                ordered.append(event)
        assert ordered == expected
        assert [e["event"] for e in ordered].count("Video Playback Started") == 1

    check()


# ---- sequencing, case by case --------------------------------------------------------------------


def beacons_of(path: str, *cuts: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    whole = json.loads((SAMPLES / path).read_text())
    return whole, split(whole, list(cuts))


def test_a_beacon_received_twice_yields_the_same_events_with_the_same_ids():
    _, beacons = beacons_of("html5/watch-to-end.json", 30, 60)
    source = new_source("html5")
    first = deliver(source, beacons[0])
    assert first and deliver(source, beacons[0]) == first
    second = deliver(source, beacons[1])
    assert deliver(source, beacons[0]) == first  # still remembered after later beacons


def test_an_early_beacon_waits_for_the_missing_one():
    whole, beacons = beacons_of("html5/watch-to-end.json", 30, 60)
    source = new_source("html5")
    expected = deliver(new_source("html5"), whole)
    got_2 = deliver(source, beacons[2])
    got_1 = deliver(source, beacons[1])
    assert got_2 == [] and got_1 == []  # both wait for seq 0
    got_0 = deliver(source, beacons[0])
    assert got_0 == expected  # and then all of it, in session order
    assert deliver(source, beacons[2]) == []  # a retry of a beacon released by another: already sent


def test_ignored_counts_say_what_happened_to_a_beacon():
    _, beacons = beacons_of("html5/watch-to-end.json", 30, 60)
    source = new_source("html5")
    request = lambda b: WebhookRequest("POST", "/html5", json.dumps(b).encode(), {}, received_at=BASE + timedelta(milliseconds=b["sent_t"]))
    assert source.translate(request(beacons[1])).ignored["beacon:buffered"] == 1
    assert source.translate(request(beacons[1])).ignored["beacon:duplicate"] == 1
    assert source.translate(request(beacons[0])).events
    assert source.translate(request(beacons[1])).ignored["beacon:duplicate"] == 1


def test_a_gap_is_given_up_after_the_timeout_and_the_straggler_is_ignored():
    whole, beacons = beacons_of("html5/watch-to-end.json", 20, 40, 60)
    source = new_source("html5", {"CIOHOOKS_VIDEO_GAP_TIMEOUT_SECONDS": "30"})
    assert deliver(source, beacons[0])
    at = lambda b, seconds: WebhookRequest("POST", "/html5", json.dumps(b).encode(), {}, received_at=BASE + timedelta(seconds=seconds))
    assert source.translate(at(beacons[2], 100)).events == []  # seq 1 is missing: wait
    late = source.translate(at(beacons[3], 131))  # 31 s later: seq 1 is given up
    assert late.ignored["beacon:lost"] == 1 and late.events
    names = [e.name for e in late.events]
    assert names and "Video Playback Started" not in names
    straggler = source.translate(at(beacons[1], 140))
    assert straggler.events == [] and straggler.ignored["beacon:late"] == 1


def test_too_many_buffered_beacons_give_the_gap_up():
    _, beacons = beacons_of("html5/watch-to-end.json", *range(10, 90, 5))
    source = new_source("html5", {"CIOHOOKS_VIDEO_MAX_BUFFERED_BEACONS": "3", "CIOHOOKS_VIDEO_GAP_TIMEOUT_SECONDS": "100000"})
    request = lambda b: WebhookRequest("POST", "/html5", json.dumps(b).encode(), {}, received_at=BASE + timedelta(milliseconds=b["sent_t"]))
    outs = [source.translate(request(b)) for b in beacons[1:5]]  # seq 0 (play, playing) never arrives
    assert [o.ignored["beacon:buffered"] for o in outs[:3]] == [1, 1, 1]
    assert outs[3].ignored["beacon:lost"] == 1 and outs[3].ignored["beacon:buffered"] == 0  # the fourth releases all
    later = [e.to_cio() for b in beacons[5:] for e in source.translate(request(b)).events]
    # without seq 0, playback starts where content is next seen moving (the end of a rebuffer)
    assert later[0]["event"] == "Video Playback Started" and later[0]["properties"]["position"] == 22
    assert [e["event"] for e in later].count("Video Playback Started") == 1


def test_the_final_beacon_closes_the_session_even_with_a_gap():
    whole, beacons = beacons_of("html5/paused-seek-exit.json", 5, 10)
    source = new_source("html5", PATIENT)
    deliver(source, beacons[0])
    out = deliver(source, beacons[2])  # final; seq 1 missing
    assert [e["event"] for e in out][-1] == "Video Playback Exited"
    assert deliver(source, beacons[1]) == []  # after the final beacon, nothing
    assert deliver(source, {**beacons[2], "seq": 7, "final": False}) == []


def test_sessions_are_per_player_route_and_session_id():
    whole = json.loads((SAMPLES / "html5/paused-seek-exit.json").read_text())
    source = new_source("html5")
    one = deliver(source, whole)
    two = deliver(source, {**whole, "session_id": "another"})
    assert [e["event"] for e in one] == [e["event"] for e in two]
    assert not {e["messageId"] for e in one} & {e["messageId"] for e in two}


def test_timestamps_are_anchored_once_per_session():
    _, beacons = beacons_of("html5/watch-to-end.json", 50)
    source = new_source("html5")
    request = lambda b, delay: WebhookRequest("POST", "/html5", json.dumps(b).encode(), {}, received_at=BASE + timedelta(milliseconds=b["sent_t"] + delay))
    first = [e.to_cio() for e in source.translate(request(beacons[0], 120)).events]
    second = [e.to_cio() for e in source.translate(request(beacons[1], 4000)).events]  # a slow network
    play_t = next(e["t"] for e in beacons[0]["events"] if e["type"] == "play")
    assert first[0]["timestamp"] == (BASE + timedelta(milliseconds=play_t + 120)).isoformat().replace("+00:00", "Z")
    last_t = beacons[1]["events"][-1]["t"]
    assert second[-1]["timestamp"] == (BASE + timedelta(milliseconds=last_t + 120)).isoformat().replace("+00:00", "Z")


# ---- the embedded store --------------------------------------------------------------------------


def test_embedded_store_compares_and_sets_on_version():
    store = EmbeddedSessionStore()
    assert store.load("k") is None
    written = store.save(SessionRecord(key="k", next_seq=1), expected_version=0)
    assert written.version == 1 and store.load("k").next_seq == 1
    with pytest.raises(SessionConflict):
        store.save(SessionRecord(key="k", next_seq=5), expected_version=0)
    store.save(replace(store.load("k"), next_seq=2), expected_version=1)
    assert (store.load("k").version, store.load("k").next_seq) == (2, 2)


def test_embedded_store_returns_copies_and_expires(monkeypatch):
    import ciohooks.video_sessions as module

    store = EmbeddedSessionStore(ttl_seconds=60)
    written = store.save(SessionRecord(key="k", machine={"a": [1]}), 0)
    assert written.expires_at >= module.time.time() + 59
    loaded = store.load("k")
    loaded.machine["a"].append(2)
    assert store.load("k").machine == {"a": [1]}
    now = module.time.time()
    monkeypatch.setattr(module.time, "time", lambda: now + 61)
    assert store.load("k") is None


def test_update_retries_after_a_conflict_and_gives_up_eventually():
    store = EmbeddedSessionStore()
    calls = []

    def work(record: SessionRecord):
        calls.append(record.version)
        if len(calls) == 1:  # someone else saves between our load and our save
            store.save(replace(record, next_seq=10), record.version)
        return replace(record, next_seq=record.next_seq + 1), record.next_seq

    assert update(store, "k", work) == 10
    assert calls == [0, 1] and store.load("k").next_seq == 11

    def always_conflicts(record: SessionRecord):
        store.save(replace(record), record.version)
        return record, None

    with pytest.raises(SessionStoreUnavailable):
        update(store, "k", always_conflicts, attempts=3)


def test_concurrent_beacons_of_one_session_are_all_counted():
    whole, beacons = beacons_of("html5/watch-to-end.json", *range(4, 92, 4))
    expected = deliver(new_source("html5"), whole)
    source = new_source("html5", PATIENT)
    results: dict[int, list[dict[str, Any]]] = {}
    threads = [threading.Thread(target=lambda b=b: results.__setitem__(b["seq"], deliver(source, b))) for b in beacons]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    produced = [e for seq in sorted(results) for e in results[seq]]
    assert sorted(e["messageId"] for e in produced) == sorted(e["messageId"] for e in expected)


def test_the_store_comes_from_settings():
    assert isinstance(store_from_settings(Settings({})), EmbeddedSessionStore)
    from ciohooks.video_sessions import DynamoDBSessionStore

    store = store_from_settings(Settings({"CIOHOOKS_VIDEO_SESSIONS_TABLE": "sessions", "CIOHOOKS_VIDEO_SESSION_TTL_SECONDS": "600"}))
    assert isinstance(store, DynamoDBSessionStore) and (store.table, store.ttl_seconds) == ("sessions", 600)
    # each source object has its own embedded store (Lambda and serve keep the object)
    assert new_source("html5").sessions is not new_source("html5").sessions


def test_a_record_too_large_drops_old_replay_results_first():
    record = SessionRecord(key="k", results={str(i): [{"x": os.urandom(1000).hex(), "i": i}] for i in range(50)})
    trimmed, data = record.trimmed(limit=8_000)
    assert len(data) <= 8_000 and trimmed.results and min(map(int, trimmed.results)) > 0
    assert max(map(int, trimmed.results)) == 49
