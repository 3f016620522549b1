"""Video sessions across beacons: order, retries, duplicates, gaps closed by time, lost state.

Two property tests (hypothesis: the "ci" profile's derandomized examples on every run; ``make fuzz``
draws fresh ones, as many as its profile says):

- Any split of every sample session (every player) into beacons, posted in any order (the final
  one included: the tracker posts every pending beacon at once) and with any retries, within the
  gap timeout: the events that come out, first occurrence of each messageId kept, are exactly those
  of the whole session sent as one beacon (up to messageIds, which name the beacon and the index
  in it), with exactly one Video Playback Started; a retried beacon yields what it yielded the
  first time; no messageId is shared by two different events.
- The same, with arrivals spread past the gap timeout (gaps closed by the next beacon or by the
  sweep, stragglers arriving after that) and the session state lost between beacons (after the
  sweep ran: early beacons live in the session for the gap timeout, see docs): every
  native event of every beacon reaches the state machine (nothing is dropped as late or after
  the final), and no messageId is ever shared by two different events (another name, or another
  native event).
"""

from __future__ import annotations

import json
import random
import threading
import zlib
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ciohooks import ids, sources
from ciohooks.config import Settings
from ciohooks.deliver import Deliverer, InboundMessage
from ciohooks.envelope import Envelope
from ciohooks.queue import MemoryQueue
from ciohooks.request import WebhookRequest
from ciohooks.sources.video._state import PlaybackState
from ciohooks.sources.video._sweep import Sweep
from ciohooks.video_sessions import (
    EmbeddedSessionStore,
    SessionConflict,
    SessionRecord,
    SessionStoreUnavailable,
    store_from_settings,
    update,
)
from tests.support.spec import assert_valid_event
from tests.unit.test_deliver import RecordingSink

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "video"
SAMPLE_FILES = sorted(SAMPLES.glob("*/*.json"))
SAVED_BEFORE_TYPED_STATE = Path(__file__).parent / "data" / "video-session-saved-before-typed-state.json"
BASE = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)  # the session's t = 0
BASE_MS = int(BASE.timestamp() * 1000)
REPLAY_RESULTS = 8  # the default VIDEO_REPLAY_RESULTS
GAP_TIMEOUT_MS = 30_000  # the default VIDEO_GAP_TIMEOUT_SECONDS
PATIENT = {"CIOHOOKS_VIDEO_MAX_BUFFERED_BEACONS": "1000", "CIOHOOKS_VIDEO_GAP_TIMEOUT_SECONDS": "100000"}


def property_settings(examples: int):
    """``examples`` per test under the derandomized "ci" profile (tests/conftest.py); the loaded
    profile's own count, and its fresh draws, under ``make fuzz``."""
    count = examples if settings.default.derandomize else settings.default.max_examples
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def with_retries(sequence: list[Any], retries: list[int]) -> list[Any]:
    """``sequence`` with each retry the re-sending of a beacon already sent, somewhere later."""
    for r in retries:
        at = r % (len(sequence) + 1)
        if at:
            sequence.insert(at, sequence[:at][r % at])
    return sequence


def deliver(source, beacon: dict[str, Any], at_ms: float | None = None) -> list[dict[str, Any]]:
    """Post one beacon, received at BASE + ``at_ms`` (default: its sent_t, as if the network took no time)."""
    received = BASE + timedelta(milliseconds=beacon["sent_t"] if at_ms is None else at_ms)
    request = WebhookRequest("POST", f"/{source.name}", json.dumps(beacon).encode(), {}, received_at=received)
    return [event.to_cio() for event in source.translate(request).events]


def sweep(source, at_ms: float) -> list[Envelope]:
    """What the scheduled sweep queues at BASE + ``at_ms`` for this source's sessions."""
    now = BASE_MS + int(at_ms)
    queued: list[Envelope] = []
    for key in source.sessions.due(now, 100):
        source.sweep_session(key, now, queued.append)
    return queued


def without_id(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "messageId"}


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


class Watched:
    """A source whose machine inputs and emitted events the test observes: which native events
    reached the state machine, and which (event name, native event time) each messageId was made
    for. Observation only: the source runs unchanged."""

    def __init__(self, name: str, environ: dict[str, str] | None = None) -> None:
        self.source = new_source(name, environ)
        self.fed: Counter[tuple[float, str]] = Counter()
        self.made_for: dict[str, set[tuple[str, float]]] = defaultdict(set)
        signals, event = self.source.signals, self.source._event

        def watched_signals(native, *args):
            self.fed[(native.t, native.type)] += 1
            return signals(native, *args)

        def watched_event(item, *args):
            built = event(item, *args)
            self.made_for[built.messageId].add((item["event"], item["t"]))
            return built

        self.source.signals, self.source._event = watched_signals, watched_event

    def lose_state(self) -> None:
        self.source.sessions._items.clear()  # an expired item, a restarted serve


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
def deliveries(draw, n_events: int):
    cuts = draw(st.lists(st.integers(min_value=1, max_value=max(1, n_events - 1)), max_size=12))
    empty_final = draw(st.booleans())
    retries = draw(st.lists(st.integers(min_value=0, max_value=40), max_size=4))
    order_seed = draw(st.randoms(use_true_random=False))
    return cuts, empty_final, retries, order_seed


@pytest.mark.parametrize("path", [f"{p.parent.name}/{p.name}" for p in SAMPLE_FILES])
def test_any_split_order_or_retry_within_the_gap_timeout_gives_the_same_events(path, whole_sessions):
    whole, expected = whole_sessions[path]
    player = path.split("/")[0]

    @property_settings(25)
    @given(deliveries(len(whole["events"])))
    def check(plan):
        cuts, empty_final, retries, order = plan
        sequence = split(whole, cuts, empty_final)
        order.shuffle(sequence)  # any order, the final beacon anywhere
        sequence = with_retries(sequence, retries)
        watched = Watched(player, PATIENT)  # every beacon arrives before any gap times out
        first_seen: dict[int, list[dict[str, Any]]] = {}
        produced: list[dict[str, Any]] = []
        for beacon in sequence:
            out = deliver(watched.source, beacon)
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
        assert [without_id(e) for e in ordered] == [without_id(e) for e in expected]
        assert [e["event"] for e in ordered].count("Video Playback Started") == 1
        assert all(len(made) == 1 for made in watched.made_for.values()), "a messageId made for two different events"
        assert watched.fed == Counter((e["t"], e["type"]) for e in whole["events"])  # each native event once

    check()


@st.composite
def rough_deliveries(draw, n_events: int):
    cuts = draw(st.lists(st.integers(min_value=1, max_value=max(1, n_events - 1)), max_size=10))
    order_seed = draw(st.randoms(use_true_random=False))
    retries = draw(st.lists(st.integers(min_value=0, max_value=40), max_size=4))
    # per step: ms since the previous arrival (up to twice the gap timeout), a sweep before it, state lost before it
    steps = draw(st.lists(st.tuples(st.integers(0, 2 * GAP_TIMEOUT_MS), st.booleans(), st.booleans()), min_size=24, max_size=24))
    return cuts, order_seed, retries, steps


@pytest.mark.parametrize("path", [f"{p.parent.name}/{p.name}" for p in SAMPLE_FILES])
def test_no_order_retry_delay_or_lost_state_loses_an_event_or_shares_a_message_id(path, whole_sessions):
    whole, _ = whole_sessions[path]
    player = path.split("/")[0]

    @property_settings(20)
    @given(rough_deliveries(len(whole["events"])))
    def check(plan):
        cuts, order, retries, steps = plan
        beacons = split(whole, cuts)
        sequence = list(beacons)
        order.shuffle(sequence)
        sequence = with_retries(sequence, retries)
        watched = Watched(player)
        now = float(whole["sent_t"])
        for beacon, (gap_ms, sweep_first, lose_first) in zip(sequence, steps * (len(sequence) // len(steps) + 1)):
            now += gap_ms
            if lose_first:
                # State is lost the way it really is (the item's TTL, a restarted serve): early
                # beacons wait in the session for the gap timeout, then the sweep runs them.
                now += GAP_TIMEOUT_MS
                sweep(watched.source, now)
                watched.lose_state()
            if sweep_first:
                sweep(watched.source, now)
            deliver(watched.source, beacon, at_ms=now)
        sweep(watched.source, now + 10 * GAP_TIMEOUT_MS)  # the schedule keeps running
        # every native event of every beacon reached the state machine (again, after lost state)
        assert set(watched.fed) == {(e["t"], e["type"]) for e in whole["events"]}
        # nothing waits forever
        assert all(not json.loads(zlib.decompress(item[1]))["buffered"] for item in watched.source.sessions._items.values())
        # and no messageId stands for two different events
        assert all(len(made) == 1 for made in watched.made_for.values()), "a messageId made for two different events"

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
    assert deliver(source, beacons[1])
    assert deliver(source, beacons[0]) == first  # still remembered after later beacons


def test_an_early_beacon_waits_for_the_missing_one():
    whole, beacons = beacons_of("html5/watch-to-end.json", 30, 60)
    source = new_source("html5")
    expected = deliver(new_source("html5"), whole)
    got_2 = deliver(source, beacons[2])
    got_1 = deliver(source, beacons[1])
    assert got_2 == [] and got_1 == []  # both wait for seq 0
    got_0 = deliver(source, beacons[0])
    assert [without_id(e) for e in got_0] == [without_id(e) for e in expected]  # then all of it, in session order
    assert deliver(source, beacons[2]) == []  # a retry of a beacon released by another: already sent


def test_ingest_keeps_an_early_or_retried_beacon_off_the_dlq():
    # Ingest turns an undeclared ignored key into an unknown type (the request is dead-lettered):
    # the sequencing notes are declared by every player, so an early or a retried beacon is not.
    from ciohooks.ingest import translate

    _, beacons = beacons_of("html5/watch-to-end.json", 30, 60)
    source = new_source("html5")
    request = lambda b: WebhookRequest("POST", "/html5", json.dumps(b).encode(), {}, received_at=BASE + timedelta(milliseconds=b["sent_t"]))
    early, retried = translate(source, request(beacons[1])), translate(source, request(beacons[1]))
    assert (early.ignored, early.unknown) == (Counter({"beacon:buffered": 1}), Counter())
    assert (retried.ignored, retried.unknown) == (Counter({"beacon:duplicate": 1}), Counter())


def test_ignored_counts_say_what_happened_to_a_beacon():
    _, beacons = beacons_of("html5/watch-to-end.json", 30, 60)
    source = new_source("html5")
    request = lambda b: WebhookRequest("POST", "/html5", json.dumps(b).encode(), {}, received_at=BASE + timedelta(milliseconds=b["sent_t"]))
    assert source.translate(request(beacons[1])).ignored["beacon:buffered"] == 1
    assert source.translate(request(beacons[1])).ignored["beacon:duplicate"] == 1
    assert source.translate(request(beacons[0])).events
    assert source.translate(request(beacons[1])).ignored["beacon:duplicate"] == 1


def test_the_final_beacon_that_overtakes_the_one_before_it_waits_for_it():
    # The tracker posts every pending beacon at once: the final one often arrives first.
    whole, beacons = beacons_of("html5/paused-seek-exit.json", 5, 10)
    source = new_source("html5")
    assert deliver(source, beacons[0])
    assert deliver(source, beacons[2], at_ms=27_300) == []  # final, but seq 1 is not in yet: wait
    late = deliver(source, beacons[1], at_ms=27_400)  # 100 ms later: 202, and translated
    assert [e["event"] for e in late] == ["Video Content Playing", "Video Playback Paused", "Video Playback Seek Started", "Video Playback Seek Completed", "Video Playback Exited"]
    expected = deliver(new_source("html5"), whole)
    assert [without_id(e) for e in deliver(new_source("html5"), beacons[0]) + late] == [without_id(e) for e in expected]


def test_a_gap_is_closed_by_the_next_beacon_after_the_timeout_and_a_straggler_is_still_translated():
    whole, beacons = beacons_of("html5/watch-to-end.json", 20, 40, 60)
    source = new_source("html5", {"CIOHOOKS_VIDEO_GAP_TIMEOUT_SECONDS": "30"})
    at = lambda b, seconds: WebhookRequest("POST", "/html5", json.dumps(b).encode(), {}, received_at=BASE + timedelta(seconds=seconds))
    assert source.translate(at(beacons[0], 20)).events
    assert source.translate(at(beacons[2], 100)).events == []  # seq 1 is missing: wait
    late = source.translate(at(beacons[3], 131))  # 31 s later: the gap is closed, seq 2 and 3 run
    assert late.ignored["beacon:gap_closed"] == 1 and late.events
    assert "Video Playback Started" not in [e.name for e in late.events]
    straggler = source.translate(at(beacons[1], 140))  # seq 1 after all: run from the state where its gap began
    assert straggler.ignored["beacon:straggler"] == 1
    whole_names = [e["event"] for e in deliver(new_source("html5"), whole)]
    # seq 1 holds events 20..39 of the session: a buffering episode and two heartbeats (pinned in
    # test_video_translation's EXPECTED for this sample).
    assert [e.name for e in straggler.events] == ["Video Content Playing", "Video Playback Buffer Started", "Video Playback Buffer Completed"]
    assert set(e.name for e in straggler.events) <= set(whole_names)
    again = source.translate(at(beacons[1], 141))  # and its retry yields the same events, same ids
    assert [e.messageId for e in again.events] == [e.messageId for e in straggler.events]


def test_a_gap_is_closed_by_the_sweep_when_no_beacon_comes():
    whole, beacons = beacons_of("html5/paused-seek-exit.json", 5, 10)
    source = new_source("html5")
    deliver(source, beacons[0])
    assert deliver(source, beacons[2], at_ms=27_300) == []  # the final beacon; seq 1 never comes
    assert sweep(source, 27_300 + 29_999) == []  # not due yet
    (envelope,) = sweep(source, 27_300 + 30_000)
    # seq 1 (events 5-9: heartbeats) is lost; the final beacon runs from the state after seq 0
    assert [e["event"] for e in envelope.events] == ["Video Content Playing", "Video Playback Paused", "Video Playback Seek Started", "Video Playback Seek Completed", "Video Playback Exited"]
    assert envelope.kind == "events" and envelope.source == "video/html5"
    assert envelope.received_at == BASE + timedelta(milliseconds=27_300)  # when that beacon arrived
    assert sweep(source, 27_300 + 90_000) == []  # done: nothing is due any more
    for event in envelope.events:
        assert_valid_event(event)
    # the envelope carries the beacon as its request: a dead letter replays to the same events
    sink = RecordingSink()
    deliverer = Deliverer(sink, MemoryQueue(), Settings({}))
    deliverer._sources["video/html5"] = source
    replayed = Envelope(kind="request", source=envelope.source, received_at=envelope.received_at, request=envelope.request)
    assert deliverer.deliver([InboundMessage("m1", replayed.to_json())]).delivered == 5
    assert sink.calls[0] == envelope.events


def test_the_sweep_keeps_a_verified_user_id_in_the_request_it_queues():
    _, beacons = beacons_of("html5/paused-seek-exit.json", 5, 10)
    source = new_source("html5")

    def verified(beacon: dict[str, Any], at_ms: float) -> WebhookRequest:  # as ingest records it (Source.attested)
        return WebhookRequest("POST", "/html5", json.dumps(beacon).encode(), {}, received_at=BASE + timedelta(milliseconds=at_ms), verified_user_id="user-4412")

    assert {e.userId for e in source.translate(verified(beacons[0], beacons[0]["sent_t"])).events} == {"user-4412"}
    assert source.translate(verified(beacons[2], 27_300)).events == []  # seq 1 never comes
    (envelope,) = sweep(source, 27_300 + 30_000)
    assert envelope.request["verified_user_id"] == "user-4412" and {e["userId"] for e in envelope.events} == {"user-4412"}
    # a dead letter of it replays under the same person, through a deliver that never saw the beacon
    sink = RecordingSink()
    replayed = Envelope(kind="request", source=envelope.source, received_at=envelope.received_at, request=envelope.request)
    deliverer = Deliverer(sink, MemoryQueue(), Settings({}))
    deliverer._sources["video/html5"] = source  # the session state the sweep left (shared in AWS)
    assert deliverer.deliver([InboundMessage("m1", replayed.to_json())]).delivered == 5
    assert sink.calls[0] == envelope.events


def test_the_sweep_runs_over_every_video_route_from_the_store_and_queues_on_the_delivery_queue():
    settings = Settings({})
    html5, mux = sources.load("video/html5")(settings), sources.load("video/mux")(settings)
    _, html5_beacons = beacons_of("html5/paused-seek-exit.json", 1)
    _, mux_beacons = beacons_of("mux/early-exit.json", 1)
    deliver(html5, html5_beacons[1], at_ms=0)
    deliver(mux, mux_beacons[1], at_ms=0)  # both wait for their seq 0 (a loading event), which never comes
    queue = MemoryQueue()
    nothing = Sweep(settings, queue).run(now_ms=BASE_MS + 1_000)
    assert (nothing.sessions, nothing.events) == (0, 0)
    report = Sweep(settings, queue).run(now_ms=BASE_MS + 30_000)
    assert (report.sessions, report.failed) == (2, 0) and report.events > 0
    queued = [Envelope.from_json(m.body) for m in queue.receive(max_messages=10)]
    assert sorted(e.source for e in queued) == ["video/html5", "video/mux"]
    assert sum(len(e.events or []) for e in queued) == report.events


def test_too_many_buffered_beacons_close_the_gap():
    _, beacons = beacons_of("html5/watch-to-end.json", *range(10, 90, 5))
    source = new_source("html5", {"CIOHOOKS_VIDEO_MAX_BUFFERED_BEACONS": "3", "CIOHOOKS_VIDEO_GAP_TIMEOUT_SECONDS": "100000"})
    request = lambda b: WebhookRequest("POST", "/html5", json.dumps(b).encode(), {}, received_at=BASE + timedelta(milliseconds=b["sent_t"]))
    outs = [source.translate(request(b)) for b in beacons[1:5]]  # seq 0 (play, playing) is late
    assert [o.ignored["beacon:buffered"] for o in outs[:3]] == [1, 1, 1]
    assert outs[3].ignored["beacon:gap_closed"] == 1 and outs[3].ignored["beacon:buffered"] == 0  # the fourth releases all
    assert [e.name for e in outs[3].events] == ["Video Content Playing"]  # taken up mid-playback
    later = [e.to_cio() for b in beacons[5:] for e in source.translate(request(b)).events]
    assert [e["event"] for e in later][:5] == ["Video Content Playing", "Video Playback Buffer Started", "Video Playback Buffer Completed", "Video Content Playing", "Video Playback Paused"]
    assert "Video Playback Started" not in [e["event"] for e in later]  # not invented mid-session
    # seq 0 arrives after all: translated from the state before any beacon, not dropped
    first = source.translate(request(beacons[0]))
    assert [e.name for e in first.events] == ["Video Playback Started", "Video Content Started"]


def test_lost_state_never_gives_one_events_id_to_another():
    # Issue 11: after the state was lost, a counter restarted and "Buffer Started" and "Content
    # Completed" went out under one messageId. Ids now name the native event and the event.
    whole, beacons = beacons_of("html5/watch-to-end.json", 40, 80)
    watched = Watched("html5")
    first = deliver(watched.source, beacons[0])
    second = deliver(watched.source, beacons[1])
    watched.lose_state()
    third = deliver(watched.source, beacons[2], at_ms=beacons[2]["sent_t"] + 30_000)  # waits for "seq 0" and 1
    third += [e for env in sweep(watched.source, beacons[2]["sent_t"] + 60_000) for e in env.events or []]
    assert third, "the beacon after the lost state is still translated"
    ids_before = {e["messageId"] for e in first + second}
    assert not ids_before & {e["messageId"] for e in third}
    assert all(len(made) == 1 for made in watched.made_for.values())


def test_a_session_saved_before_the_typed_state_is_still_read_and_continued():
    # What the previous version saved (a held Mux pause, a buffered beacon, counter-based ids).
    saved = json.loads(SAVED_BEFORE_TYPED_STATE.read_text())
    record = SessionRecord.from_bytes(zlib.compress(json.dumps(saved).encode()))
    assert record.machine.state == "paused" and record.machine.pending_pause is not None
    assert record.machine.pending_pause.was == "playing" and record.machine.ad.in_break is False
    assert record.next_seq == 1 and set(record.buffered) == {"2"} and record.skipped == []
    source = new_source("mux")
    source.sessions.save(replace(record, key="video/mux#s-old"), 0)
    # seq 1 comes: the viewer resumes; then seq 2 (waiting) runs
    seq_1 = {"session_id": "s-old", "anonymousId": "a-old", "seq": 1, "sent_t": 20_000, "events": [
        {"t": 19_000, "type": "play", "data": {"player_playhead_time": 12000}, "player": {"currentTime": 12}}]}
    out = deliver(source, seq_1)
    assert [e["event"] for e in out] == ["Video Playback Paused", "Video Playback Resumed"]
    # the held pause keeps the id the previous version reserved for it ([2, 0]: native event 2)
    assert out[0]["messageId"] == ids.message_id("video/mux", "s-old", "2", "0") == "07f700b2-99b4-5e0b-be5c-49cca4ea2c46"
    assert out[0]["timestamp"] == "2026-11-23T12:00:12Z"
    assert PlaybackState.from_dict({"state": "dancing", "unknown": 1}).state == "idle"


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
    written = store.save(SessionRecord(key="k", machine=PlaybackState(memo={"a": [1]})), 0)
    assert written.expires_at >= module.time.time() + 59
    loaded = store.load("k")
    loaded.machine.memo["a"].append(2)
    assert store.load("k").machine.memo == {"a": [1]}
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
    in_order = new_source("html5")
    expected = [e for b in beacons for e in deliver(in_order, b)]
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
    record = SessionRecord(key="k", results={str(i): [{"x": random.Random(i).randbytes(1000).hex(), "i": i}] for i in range(50)})
    trimmed, data = record.trimmed(limit=8_000)
    assert len(data) <= 8_000 and trimmed.results and min(map(int, trimmed.results)) > 0
    assert max(map(int, trimmed.results)) == 49


def test_serve_runs_the_sweep_over_the_sessions_its_ingest_keeps():
    import time as clock

    from ciohooks.local import LocalPipeline

    pipeline = LocalPipeline(Settings({"CIOHOOKS_VIDEO_WRITE_KEYS": "wk_local"}), write=lambda line: None)
    _, beacons = beacons_of("html5/paused-seek-exit.json", 1)
    request = WebhookRequest("POST", "/html5", json.dumps(beacons[1]).encode(), {"x-cio-write-key": "wk_local"})
    assert pipeline.handle(request)["statusCode"] == 202  # waits for seq 0, which never comes
    assert pipeline.delivery_queue.approximate_depth() == 0
    assert pipeline.video_sweep.run_if_due() is not None and pipeline.video_sweep.run_if_due() is None  # every 5 s
    report = pipeline.video_sweep.run(now_ms=int(clock.time() * 1000) + GAP_TIMEOUT_MS)
    assert report.sessions == 1 and report.events > 0
    assert pipeline.delivery_queue.approximate_depth() == 1


def test_a_session_the_sweep_cannot_save_is_reported_failed_and_the_others_go_on():
    settings = Settings({})
    html5 = sources.load("video/html5")(settings)
    _, beacons = beacons_of("html5/paused-seek-exit.json", 1)
    deliver(html5, beacons[1], at_ms=0)
    deliver(html5, {**beacons[1], "session_id": "other"}, at_ms=0)

    class Down(MemoryQueue):
        def put(self, envelope):
            from ciohooks.queue import QueueUnavailable

            raise QueueUnavailable("SQS is down")

    report = Sweep(settings, Down()).run(now_ms=BASE_MS + GAP_TIMEOUT_MS)
    assert (report.sessions, report.events, report.failed) == (2, 0, 2)
    # nothing was saved: the next run, with the queue back, releases both
    queue = MemoryQueue()
    assert Sweep(settings, queue).run(now_ms=BASE_MS + GAP_TIMEOUT_MS).failed == 0 and queue.approximate_depth() == 2


def test_the_sweep_leaves_what_it_has_no_time_for_to_the_next_run():
    settings = Settings({})
    html5 = sources.load("video/html5")(settings)
    _, beacons = beacons_of("html5/paused-seek-exit.json", 1)
    deliver(html5, beacons[1], at_ms=0)
    import time as clock

    queue = MemoryQueue()
    late = Sweep(settings, queue).run(now_ms=BASE_MS + GAP_TIMEOUT_MS, stop_at=clock.monotonic() - 1)
    assert (late.sessions, queue.approximate_depth()) == (0, 0)
    assert Sweep(settings, queue).run(now_ms=BASE_MS + GAP_TIMEOUT_MS).sessions == 1 and queue.approximate_depth() == 1
