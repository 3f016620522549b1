"""HTML5 ``<video>`` media events (as recorded by the tracker) -> Customer.io video semantic events.

Beacon format, session handling, endpoint security and the semantic rules shared by every player:
``_source.py`` (and the modules it lists) and docs/sources/video.md. This module says what each media event means.

- Media events: https://html.spec.whatwg.org/multipage/media.html#mediaevents
- "Reaches the end" steps (timeupdate, then ``pause``, then ``ended``):
  https://html.spec.whatwg.org/multipage/media.html#reaches-the-end
- Seeking steps (``seeking`` ... ``timeupdate``, ``seeked``):
  https://html.spec.whatwg.org/multipage/media.html#seeking
- MDN, per event: https://developer.mozilla.org/en-US/docs/Web/API/HTMLMediaElement#events

The tracker's ``data`` is ``null`` for media events (the DOM ``Event`` carries nothing useful),
except ``error``: ``{code, message}`` read from ``media.error`` (a ``MediaError``). ``player`` is
read from the element: currentTime, duration (``null`` when it is NaN or Infinity), volume (0..1),
muted, paused, ended, playbackRate, fullscreen (``document.fullscreenElement``), width/height
(``videoWidth``/``videoHeight``), and bitrate/quality when the page knows them (e.g. hls.js).

Mapping (native -> signal -> semantic event, see ``_machine`` for when each fires):

    play            PLAY          Playback Started (first), Resumed (after a user pause)
    playing         PLAYING       Content Started (first), Buffer Completed (after waiting),
                                  Resumed (after a pause, if play was not seen); nothing after a seek
    pause           PAUSE         Playback Paused, except the pause the end of media fires
                                  (position at duration, or ``ended`` true): ignored
    seeking         SEEK_START    Seek Started (position = where playback was, seek_position = target)
    seeked          SEEK_END      Seek Completed
    waiting         BUFFER_START  Buffer Started (not during a seek, not before content started)
    timeupdate      TIME          Content Playing every 10 s of played playhead
    ended           ENDED         Content Completed + Playback Completed
    resize          QUALITY       Quality Updated when the rendition changes (quality label from
                                  the tracker's ``quality``, else the new height: "720p")
    error           ERROR         Playback Interrupted (a media element error is fatal: MediaError)
    volumechange, ratechange, durationchange, loadstart, loadedmetadata, loadeddata, canplay,
    canplaythrough, progress, suspend, stalled, abort, emptied, fullscreenchange, ...
                    (snapshot)    no event; what they change is read from ``player``; counted
                                  as ignored by type

Decisions:

- ``stalled`` is not buffering: it says data stopped arriving, not that playback stopped; ``waiting``
  is the event for "playback has stopped because the next frame is not available".
- ``seeking`` reports the *target* in ``currentTime`` (the seek already set it), so the position the
  seek started from is the last position known before it.
- ``resize`` fires once when metadata loads too; before playback starts it only records the quality
  (Quality Updated is about changes during playback).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import NativeEvent
from ._signals import BUFFER_START, ENDED, ERROR, PAUSE, PLAY, PLAYING, QUALITY, SEEK_END, SEEK_START, TIME, Signal
from ._source import VideoSource

SIMPLE = {"play": PLAY, "playing": PLAYING, "pause": PAUSE, "seeked": SEEK_END, "waiting": BUFFER_START, "timeupdate": TIME, "ended": ENDED}
READ_FROM_SNAPSHOT = "what it changes is read from the player snapshot every later event carries"
LOADING = "loading progress: start-up loading is not rebuffering, and no semantic event describes it"
# Every HTML media event (HTML Standard, "Event summary") that makes no event of its own.
IGNORED = {
    "loadstart": LOADING, "progress": LOADING, "suspend": LOADING, "loadedmetadata": LOADING, "loadeddata": LOADING,
    "canplay": LOADING, "canplaythrough": LOADING,
    "stalled": "data stopped arriving, playback did not stop: waiting is the buffering event",
    "abort": "loading was aborted on purpose (new source); error reports failures",
    "emptied": "the element was reset for new media: the tracker starts a new session",
    "durationchange": READ_FROM_SNAPSHOT, "volumechange": READ_FROM_SNAPSHOT, "ratechange": READ_FROM_SNAPSHOT,
    "fullscreenchange": READ_FROM_SNAPSHOT,
}


class Html5(VideoSource):
    name: ClassVar[str] = "html5"
    docs_url: ClassVar[str] = "https://html.spec.whatwg.org/multipage/media.html#mediaevents"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "html5"
    mapped_types: ClassVar[frozenset[str]] = frozenset({*SIMPLE, "seeking", "resize", "error"})
    volume_scale: ClassVar[float] = 1.0

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        kind = event.type
        if kind in SIMPLE:
            return [Signal(SIMPLE[kind])]
        if kind == "seeking":
            return [Signal(SEEK_START, fields={"from": before.get("position"), "to": snap.get("position")})]
        if kind == "resize":
            player = event.player or {}
            return [Signal(QUALITY, fields={"bitrate": player.get("bitrate"), "quality": player.get("quality"), "height": player.get("height"), "framerate": player.get("framerate")})]
        if kind == "error":
            return [Signal(ERROR, fields={"fatal": True})]
        return []


SOURCE = Html5
