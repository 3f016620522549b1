"""Wistia player events (as recorded by the tracker) -> Customer.io video semantic events.

Wistia's current player, Aurora, is a ``<wistia-player>`` web component whose events are DOM events
(``addEventListener``), some with a ``detail``; served at ``POST /wistia``. Wistia also sends server
webhooks; docs/sources/video.md ("Wistia") says what they carry and why this version does not
translate them.

- Events: https://docs.wistia.com/docs/player-events (Aurora Player Events: api-ready,
  cancel-fullscreen, can-play, can-play-through, captions-change, conversion, ended,
  enter-fullscreen, loaded-data, loaded-media-data, loaded-metadata, load-start, mute-change, pause,
  percent-watched-change, play, rate-change, second-change, seeked, seeking,
  silent-playback-mode-change, time-update, volume-change)
- Properties read for the snapshot: https://docs.wistia.com/docs/player-attributes-and-properties
  (currentTime, duration, volume 0..1, muted, state, playbackRate)

Mapping (native -> signal -> semantic event, see ``_machine`` for when each fires):

    play            PLAYING       ``state`` changed to "playing": Playback Started + Content Started
                                  (first), Resumed after a pause
    pause           PAUSE         Playback Paused (held: dropped when the end follows)
    seeking         SEEK_START    Seek Started (from the last known position to the new currentTime)
    seeked          SEEK_END      Seek Completed
    second-change   TIME          Content Playing every 10 s of played time (once a second)
    ended           ENDED         Content Completed + Playback Completed
    the others in ``IGNORED`` -> ignored on purpose, each with its reason; any other type is unknown

Aurora documents no buffering and no error event, so a Wistia session has no Buffer or Interrupted
events; and no rendition event, so no Quality Updated.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import NativeEvent
from ._signals import ENDED, PAUSE, PLAYING, SEEK_END, SEEK_START, TIME, Signal
from ._source import VideoSource
from .html5 import READ_FROM_SNAPSHOT

PLAIN = {"play": PLAYING, "pause": PAUSE, "seeked": SEEK_END, "second-change": TIME, "ended": ENDED}
LOADING = "loading progress: no semantic event describes it"
IGNORED = {
    "api-ready": "the player's API is ready; nothing played yet",
    "load-start": LOADING, "loaded-data": LOADING, "loaded-media-data": LOADING, "loaded-metadata": LOADING,
    "can-play": LOADING, "can-play-through": LOADING,
    "volume-change": READ_FROM_SNAPSHOT, "mute-change": READ_FROM_SNAPSHOT, "rate-change": READ_FROM_SNAPSHOT,
    "enter-fullscreen": READ_FROM_SNAPSHOT, "cancel-fullscreen": READ_FROM_SNAPSHOT,
    "time-update": "second-change carries the same playhead once a second",
    "percent-watched-change": "Wistia's own watched share; Content Playing heartbeats come from second-change",
    "captions-change": "a caption setting: no semantic event",
    "silent-playback-mode-change": "silent autoplay toggled: no playback of its own",
    "conversion": "a Turnstile email capture: not playback (the tracker records only its type, never the email)",
}


class Wistia(VideoSource):
    name: ClassVar[str] = "wistia"
    docs_url: ClassVar[str] = "https://docs.wistia.com/docs/player-events"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "wistia"
    mapped_types: ClassVar[frozenset[str]] = frozenset({*PLAIN, "seeking"})
    pause_held: ClassVar[bool] = True

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        if event.type == "seeking":
            return [Signal(SEEK_START, fields={"from": before.get("position"), "to": snap.get("position")})]
        if event.type in PLAIN:
            return [Signal(PLAIN[event.type])]
        return []


SOURCE = Wistia
