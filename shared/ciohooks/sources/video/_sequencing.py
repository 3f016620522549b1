"""Beacons in ``seq`` order, whatever order they arrive in, and nothing lost on the way.

The tracker posts every pending beacon of a session at once, so they overtake each other, the
``final`` one included; a network retry repeats one; a page that dies leaves a hole. Per session
(``video_sessions.SessionRecord``):

- A beacon runs through the player's state machine in ``seq`` order. One that arrives early waits
  (buffered) for the missing ones, and runs as soon as they are in.
- The final flag ends the session only when the final beacon itself runs, that is once every
  earlier seq is in, or its gap was closed by time: a beacon that overtook the final one is still
  translated.
- A gap is closed by time, ``VIDEO_GAP_TIMEOUT_SECONDS`` (30) after the oldest waiting beacon
  arrived (or at once when more than ``VIDEO_MAX_BUFFERED_BEACONS`` wait): by the next beacon of
  the session, or, when none comes, by the scheduled sweep (``_sweep.py``; ``ciohooks serve`` runs
  it too). The missing seqs are remembered with the player state where the gap began, so a
  straggler that still arrives later is translated from that state, not dropped.
- A beacon received again yields exactly what it yielded the first time (same messageIds,
  deduplicated downstream): ingest translates before it queues, so a retry after a failed enqueue
  must not come back empty. The last ``VIDEO_REPLAY_RESULTS`` (8) results are kept; an older retry
  yields nothing, since its events were queued long ago.

Nothing here uses a counter that restarts when the state is lost (an expired item, a restarted
``serve``): every event is named by the native event it comes from (``_machine.Context.origin``).
With the state lost, the beacons that follow run from a fresh state machine: their events keep
their own ids, which can never be those of other events.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ... import video_sessions
from ..base import Translation
from ._beacon import Beacon, NativeEvent
from ._machine import FINAL, Context, Machine
from ._state import PlaybackState

if TYPE_CHECKING:
    from ._source import VideoSource

DEFAULT_MAX_BUFFERED = 16
DEFAULT_GAP_TIMEOUT_SECONDS = 30
DEFAULT_REPLAY_RESULTS = 8
MAX_GAPS_REMEMBERED = 8  # closed gaps (and their player state) kept for stragglers

# What sequencing counts in ``Translation.ignored``: notes on a beacon's fate, not native event
# types. Every player declares them (``VideoSource.__init_subclass__``), or ingest would count
# them as unknown types and dead-letter every early or retried beacon.
SEQUENCING_NOTES: dict[str, str] = {
    "beacon:duplicate": "a beacon received again: answered with the events it made the first time (same messageIds)",
    "beacon:buffered": "an early beacon: it waits for the seqs before it, and runs when they arrive or its gap is closed by time",
    "beacon:gap_closed": "seqs given up waiting for (a gap closed by time); one that still arrives runs as a straggler",
    "beacon:straggler": "a beacon whose gap was already closed: translated from the player state where the gap began",
    "beacon:after_final": "a seq above the session's final beacon: the tracker starts a new session after a final one",
}


@dataclasses.dataclass(frozen=True)
class Limits:
    max_buffered: int = DEFAULT_MAX_BUFFERED
    gap_timeout_ms: int = DEFAULT_GAP_TIMEOUT_SECONDS * 1000
    replay_results: int = DEFAULT_REPLAY_RESULTS


@dataclasses.dataclass
class Released:
    """One beacon that ran through the machine, and the events it made."""

    seq: int
    beacon: dict[str, Any]  # as buffered: seq, final, events, session_id, sent_t, who, video, arrived_ms
    events: list[dict[str, Any]]


@dataclasses.dataclass
class Step:
    """What one beacon (or one sweep) did to a session."""

    record: video_sessions.SessionRecord | None  # None: nothing to save
    events: list[dict[str, Any]]  # the events to send now, as the machine emitted them
    released: list[Released]
    tally: Translation  # ignored, unknown and failed items met while running beacons


def process_beacon(player: VideoSource, record: video_sessions.SessionRecord, beacon: Beacon, who: Callable[[], dict[str, str]], video: dict[str, Any], received_ms: int, limits: Limits) -> Step:
    """The session after ``beacon``. ``who`` resolves the beacon's identity (only called when the
    beacon is new: a duplicate is answered from the session without it)."""
    tally = Translation()
    key = str(beacon.seq)
    if key in record.results:
        tally.ignored["beacon:duplicate"] += 1
        return Step(None, record.results[key], [], tally)
    if key in record.buffered or (beacon.seq < record.next_seq and _gap_of(record, beacon.seq) is None):
        tally.ignored["beacon:duplicate"] += 1
        return Step(None, [], [], tally)
    if record.final_seq is not None and beacon.seq > record.final_seq:
        tally.ignored["beacon:after_final"] += 1  # the tracker starts a new session after a final beacon
        return Step(None, [], [], tally)

    if record.anchor_ms is None:
        sent = beacon.sent_t if beacon.sent_t is not None else max((e.t for e in beacon.events), default=0.0)
        record.anchor_ms = int(received_ms - sent)
    item = {
        **beacon.model_dump(mode="json", include={"seq", "final", "events", "session_id", "sent_t"}),
        "who": who(),
        "video": video,
        "arrived_ms": received_ms,
    }
    if (gap := _gap_of(record, beacon.seq)) is not None:
        released = [_run_straggler(player, record, gap, item, tally)]
    else:
        record.buffered[key] = item
        if beacon.final:
            record.final_seq = beacon.seq
        released = _drain(player, record, tally) + _close_gaps(player, record, received_ms, limits, tally)
        if key in record.buffered:
            tally.ignored["beacon:buffered"] += 1  # it waits for the beacons before it
    events = [event for run in released for event in run.events]
    record.results[key] = events
    _settle(record, limits)
    return Step(record, events, released, tally)


def sweep(player: VideoSource, record: video_sessions.SessionRecord, now_ms: int, limits: Limits) -> Step:
    """Close the session's gaps that waited past their time (no beacon came to do it)."""
    tally = Translation()
    released = _close_gaps(player, record, now_ms, limits, tally)
    for run in released:
        record.results[str(run.seq)] = run.events  # a retry of that beacon yields them again
    _settle(record, limits)
    return Step(record if released else None, [event for run in released for event in run.events], released, tally)


# ---- running beacons -------------------------------------------------------------------------------


def _run(player: VideoSource, machine: Machine, item: dict[str, Any], tally: Translation) -> list[dict[str, Any]]:
    """Feed one beacon's native events to ``machine``; its events (and the final flag's)."""
    seq = int(item["seq"])
    for index, raw in enumerate(item["events"]):
        event = NativeEvent.model_validate(raw)
        player.tally_type(event.type, tally)
        with tally.item(f"beacon {seq} event {index} ({event.type})"):
            machine.feed(event, Context(event.t, (seq, index), item["who"], dict(item["video"]), item["session_id"]))
    if item["final"]:
        last_t = max((e["t"] for e in item["events"]), default=0.0)
        end_t = max(last_t, item.get("sent_t") or 0.0)
        machine.finish(Context(end_t, (seq, FINAL), item["who"], dict(item["video"]), item["session_id"]))
    events, machine.out = machine.out, []
    return events


def _drain(player: VideoSource, record: video_sessions.SessionRecord, tally: Translation) -> list[Released]:
    """Run every buffered beacon that is next in line."""
    released = []
    machine = Machine(player, record.machine)
    while (item := record.buffered.pop(str(record.next_seq), None)) is not None:
        released.append(Released(record.next_seq, item, _run(player, machine, item, tally)))
        if item["final"]:
            record.closed = True
        record.next_seq += 1
    return released


def _close_gaps(player: VideoSource, record: video_sessions.SessionRecord, now_ms: int, limits: Limits, tally: Translation) -> list[Released]:
    """Give up waiting for missing seqs once the oldest early beacon waited ``gap_timeout_ms``, or
    more than ``max_buffered`` wait; remember each gap (with the state where it began)."""
    released: list[Released] = []
    while record.buffered:
        oldest = min(item["arrived_ms"] for item in record.buffered.values())
        if len(record.buffered) <= limits.max_buffered and now_ms - oldest < limits.gap_timeout_ms:
            break
        first = min(int(seq) for seq in record.buffered)
        if first > record.next_seq:
            tally.ignored["beacon:gap_closed"] += first - record.next_seq
            record.skipped.append([record.next_seq, first])
            record.gap_states[str(record.next_seq)] = record.machine.to_dict()
            if record.next_seq == 0:
                _resume(player, record.machine, record.buffered[str(first)])
            record.next_seq = first
        released += _drain(player, record, tally)
    return released


def _resume(player: VideoSource, state: PlaybackState, item: dict[str, Any]) -> None:
    """The session's beginning never reached this store (its state was lost, or seq 0 is late):
    take up playback where the first beacon seen shows it, so what follows (pauses, seeks, the
    end) is still reported. Playback Started is not invented: it went out before the state was
    lost, or comes with seq 0 if that still arrives (run from the state before any beacon)."""
    first = next(iter(item["events"]), None)
    snap = player.snapshot((first or {}).get("player") or {})
    if snap.get("paused") is False or (snap.get("position") or 0) > 0:
        state.started = state.content_started = True
        state.state = "paused" if snap.get("paused") else "playing"
        state.snap.update(snap)
        state.last_pos, state.last_t = snap.get("position"), (first or {}).get("t")


def _run_straggler(player: VideoSource, record: video_sessions.SessionRecord, gap: list[int], item: dict[str, Any], tally: Translation) -> Released:
    """A beacon whose gap was closed by time: run it from the player state where the gap began (the
    exact state when it is the gap's first seq), apart from the session's own machine."""
    seq = int(item["seq"])
    saved = record.gap_states.pop(str(gap[0]), None) if seq == gap[0] else record.gap_states.get(str(gap[0]))
    machine = Machine(player, PlaybackState.from_dict(copy.deepcopy(saved)) if saved is not None else PlaybackState())
    events = _run(player, machine, item, tally)
    tally.ignored["beacon:straggler"] += 1
    # The gap shrinks by this seq; what follows it starts from the state it left.
    record.skipped.remove(gap)
    if seq + 1 < gap[1]:
        record.skipped.append([seq + 1, gap[1]])
        record.gap_states[str(seq + 1)] = machine.s.to_dict()
    if gap[0] < seq:
        record.skipped.append([gap[0], seq])
    return Released(seq, item, events)


def _gap_of(record: video_sessions.SessionRecord, seq: int) -> list[int] | None:
    return next((gap for gap in record.skipped if gap[0] <= seq < gap[1]), None)


def _settle(record: video_sessions.SessionRecord, limits: Limits) -> None:
    """Bookkeeping after any change: the sweep's due time, and bounded memory."""
    arrivals = [item["arrived_ms"] for item in record.buffered.values()]
    record.waiting_since_ms = min(arrivals, default=None)
    record.sweep_due_ms = None if record.waiting_since_ms is None else record.waiting_since_ms + limits.gap_timeout_ms
    for old in sorted(record.results, key=int)[: max(0, len(record.results) - limits.replay_results)]:
        del record.results[old]
    record.skipped.sort()
    del record.skipped[: max(0, len(record.skipped) - MAX_GAPS_REMEMBERED)]
    starts = {str(first) for first, _ in record.skipped}
    record.gap_states = {k: v for k, v in record.gap_states.items() if k in starts}
