"""YouTube IFrame Player API events (as recorded by the tracker) -> Customer.io video semantic events.

Beacon format, sessions, security and the shared semantic rules: ``_source.py`` and
docs/sources/video.md. This module says what the IFrame API's events mean.

- Events (onReady, onStateChange, onPlaybackQualityChange, onPlaybackRateChange, onError) and
  getters: https://developers.google.com/youtube/iframe_api_reference#Events
- Player states -1 unstarted, 0 ended, 1 playing, 2 paused, 3 buffering, 5 video cued; error codes
  2, 5, 100, 101, 150; quality names small ... hd1080, highres: same page, and in code
  DefinitelyTyped types/youtube/index.d.ts (@da1c1121109501a1eb2b61d338b44e0c9313f42f)

The tracker records ``type`` = the event's name (``onStateChange``...), ``data`` = the event's
``data`` (the state number, quality name, rate or error code) and ``player`` from getCurrentTime(),
getDuration(), getVolume() (0..100), isMuted() and getPlaybackQuality(). The IFrame API has no
progress and no seek event, so the tracker also records a ``tick`` (its own, not YouTube's: the
same snapshot, about once a second while the page is visible). Seeks are inferred from ticks and
state changes: a playhead that moved more than 2 s away from where the elapsed time says it
should be has jumped.

Mapping (native -> signal -> semantic event, see ``_machine`` for when each fires):

    onStateChange 1 (playing)     PLAYING      Playback Started + Content Started (first), Resumed
                                               (after a pause), Buffer Completed (after buffering),
                                               Seek Completed first when a seek was in progress
    onStateChange 2 (paused)      PAUSE        Playback Paused; held a moment: a pause followed
                                               within 1.5 s by a jump is the scrub bar, not a pause
    onStateChange 3 (buffering)   BUFFER_START Buffer Started, or Seek Started when the playhead jumped
    onStateChange 0 (ended)       ENDED        Content Completed + Playback Completed
    onStateChange -1, 5           -            unstarted / cued: nothing
    any event showing a jump      SEEK_START   Seek Started (position = where the playhead should
                                               have been, seek_position = where it is), and Seek
                                               Completed as soon as playing, paused or a tick shows
                                               the player settled
    tick (tracker)                TIME         Content Playing every 10 s of played playhead
    onPlaybackQualityChange       QUALITY      Quality Updated, quality <- the name ("hd720")
    onError                       ERROR        Playback Interrupted (every IFrame error stops
                                               playback: bad parameter, HTML5 error, not found,
                                               embedding refused)
    onPlaybackRateChange          (snapshot)   the rate, for the heartbeat arithmetic
    onReady, onApiChange, onAutoplayBlocked    ignored, by type

Decisions:

- The IFrame API exposes no ads: YouTube sessions have no Ad events.
- YouTube reports quality names, never a bitrate: Quality Updated carries ``quality`` only.
- What YouTube fires while the viewer drags the scrub bar is not documented; it is commonly a
  paused (2), then buffering (3), then playing (1) sequence. The 1.5 s window treats that pause as
  part of the seek. UNVERIFIED against every YouTube player version.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import NativeEvent
from ._signals import BUFFER_START, ENDED, ERROR, PAUSE, PLAYING, QUALITY, SEEK_END, SEEK_START, SNAPSHOT, TIME, Signal, number
from ._source import VideoSource

UNSTARTED, ENDED_STATE, PLAYING_STATE, PAUSED_STATE, BUFFERING_STATE, CUED = -1, 0, 1, 2, 3, 5
JUMP_SECONDS = 2.0


class YouTube(VideoSource):
    name: ClassVar[str] = "youtube"
    docs_url: ClassVar[str] = "https://developers.google.com/youtube/iframe_api_reference#Events"
    ignored_types: ClassVar[Mapping[str, str]] = {
        "onReady": "the player is set up; nothing played yet",
        "onApiChange": "a module (captions) loaded: no playback meaning",
        "onAutoplayBlocked": "nothing played (autoplay blocked): no playback to report",
    }
    video_player: ClassVar[str] = "youtube"
    mapped_types: ClassVar[frozenset[str]] = frozenset({"onStateChange", "tick", "onPlaybackQualityChange", "onError", "onPlaybackRateChange"})
    volume_scale: ClassVar[float] = 100.0
    pause_held: ClassVar[bool] = True
    scrub_window_ms: ClassVar[float | None] = 1500

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        kind, data = event.type, event.data
        if kind == "onPlaybackQualityChange":
            return [Signal(QUALITY, fields={"quality": data})] if isinstance(data, str) else []
        if kind == "onError":
            return [Signal(ERROR, fields={"fatal": True})]
        if kind == "onPlaybackRateChange":
            rate = number(data)
            return [Signal(SNAPSHOT, fields={"snap": {"rate": rate}})] if rate else []
        if kind not in ("onStateChange", "tick"):
            return []

        out: list[Signal] = []
        position = number((event.player or {}).get("currentTime"))
        state = memo.get("state")
        if position is not None:
            last, last_t = memo.get("pos"), memo.get("t")
            if last is not None and last_t is not None:
                rate = number(snap.get("rate")) or 1.0
                expected = last + (max(0.0, event.t - last_t) / 1000.0 * rate if state == PLAYING_STATE else 0.0)
                if abs(position - expected) > JUMP_SECONDS:
                    memo["jumped_at"] = event.t
                    if not memo.get("seeking"):
                        memo["seeking"] = True
                        out.append(Signal(SEEK_START, fields={"from": expected, "to": position}))
            memo["pos"], memo["t"] = position, event.t
        jumped_now = memo.get("jumped_at") == event.t

        if kind == "tick":
            if memo.get("seeking") and state != BUFFERING_STATE:
                memo["seeking"] = False
                out.append(Signal(SEEK_END, position=position))
            out.append(Signal(TIME, position=position))
            return out

        new_state = data if isinstance(data, int) and not isinstance(data, bool) else None
        memo["state"] = new_state
        if new_state == PLAYING_STATE:
            out += self._settle(memo, position) + [Signal(PLAYING, position=position)]
        elif new_state == PAUSED_STATE:
            if jumped_now:
                return out  # paused on the scrub bar: the seek goes on
            out += self._settle(memo, position) + [Signal(PAUSE, position=position)]
        elif new_state == BUFFERING_STATE:
            if not memo.get("seeking"):
                out.append(Signal(BUFFER_START, position=position))
        elif new_state == ENDED_STATE:
            out += self._settle(memo, position) + [Signal(ENDED, position=position)]
        return out

    @staticmethod
    def _settle(memo: dict[str, Any], position: float | None) -> list[Signal]:
        if memo.get("seeking"):
            memo["seeking"] = False
            return [Signal(SEEK_END, position=position)]
        return []


SOURCE = YouTube
