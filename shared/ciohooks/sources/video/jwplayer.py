"""JW Player ``on(...)`` events (as recorded by the tracker) -> Customer.io video semantic events.

Beacon format, sessions, security and the shared semantic rules: ``_playback.py`` and
docs/sources/video.md. This module says what each JW Player event means.

- Playback, seek, quality, volume events: https://docs.jwplayer.com/players/reference/playback-events,
  https://docs.jwplayer.com/players/reference (events index)
- Advertising events (adBreakStart, adImpression, adTime, adComplete, adSkipped, adPause, adPlay,
  adBreakEnd): https://docs.jwplayer.com/players/reference/advertising-events; ad pods (``sequence``,
  ``podcount`` on every ad event): https://docs.jwplayer.com/platform/docs/vast3-ad-pod-reference
- Event names and payload shapes in code: github.com/jwplayer/jwplayer src/js/events/events.ts
  (@86abfadb0d34a3e5bf42a28f8595c72bae306147) and DefinitelyTyped types/jwplayer/index.d.ts
  (@5af4a5ac252b6e9ac32a2d632dde8f63323cad9d)

The tracker records the callback's argument as ``data``. ``player`` is read with getPosition(),
getDuration(), getVolume() (0..100), getMute(), getFullscreen() and getVisualQuality().

Mapping (native -> signal -> semantic event, see ``_playback`` for when each fires):

    play            PLAYING       "fired when the player enters the playing state" (content only):
                                  Playback Started + Content Started (first), Resumed (after a
                                  pause), Buffer Completed (after buffering)
    pause           PAUSE         Playback Paused (content only; ads have adPause)
    buffer          BUFFER_START  Buffer Started (fires at start-up too: ignored by the rules)
    seek            SEEK_START    Seek Started (position <- data.position, seek_position <- offset)
    seeked          SEEK_END      Seek Completed
    time            TIME          Content Playing every 10 s of played position (data.position)
    complete        ENDED         Content Completed + Playback Completed (JW fires it after any
                                  post-roll: beforeComplete is where post-rolls are inserted)
    error, mediaError, setupError
                    ERROR         Playback Interrupted ("signals a critical error": fatal)
    visualQuality   QUALITY       Quality Updated: bitrate <- level.bitrate (bits/s, sent in kbps),
                                  quality <- level.label (else label), height <- level.height
    adBreakStart    AD_BREAK_START  type <- adposition (pre/mid/post); Playback Started if first
    adImpression    AD_START      Ad Started (IAB impression: "the instant a video ad begins to
                                  play"): title <- adtitle, type <- adposition,
                                  pod_position <- sequence, pod_length <- podcount
    adTime          AD_PROGRESS   Ad Playing at each quartile (position, duration)
    adComplete      AD_COMPLETE   Ad Completed
    adSkipped       AD_SKIP       nothing: a skipped ad is not completed
    adPause/adPlay  AD_PAUSE/PLAY Playback Paused / Resumed during an ad
    adBreakEnd      AD_BREAK_END  end of the break
    volume, mute, fullscreen
                    (snapshot)    sound (volume 0..100, 0 when muted), full_screen
    ready, playlistItem, beforePlay, playAttempt, firstFrame, idle, levels, levelsChanged,
    playbackRateChanged (the rate is read from ``player``),
    bufferChange, meta, adRequest, adStarted, adError, adClick, warning, ... -> ignored, by type

Decisions:

- ``play`` (entered the playing state), not ``playAttempt``, starts playback: an attempt can fail
  (``playAttemptFailed``, autoplay blocked). With a pre-roll, ``adBreakStart`` starts it.
- ``adImpression`` is Ad Started; ``adStarted`` is ignored so an ad never starts twice.
- ``visualQuality`` (the rendition actually shown) is Quality Updated; ``levelsChanged`` (the
  menu selection, "Auto" included) is not.
- The ad's own id: JW's documented payloads reachable from here do not name an ad id field, so Ad
  events carry no ``asset_id`` rather than a guessed one. UNVERIFIED: add it once confirmed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._playback import (
    AD_BREAK_END,
    AD_BREAK_START,
    AD_COMPLETE,
    AD_PAUSE,
    AD_PLAY,
    AD_PROGRESS,
    AD_SKIP,
    AD_START,
    BUFFER_START,
    ENDED,
    ERROR,
    PAUSE,
    PLAYING,
    QUALITY,
    SEEK_END,
    SEEK_START,
    SNAPSHOT,
    TIME,
    NativeEvent,
    Signal,
    VideoSource,
    number,
)

PLAIN = {"play": PLAYING, "pause": PAUSE, "complete": ENDED, "adComplete": AD_COMPLETE, "adSkipped": AD_SKIP, "adPause": AD_PAUSE, "adPlay": AD_PLAY, "adBreakEnd": AD_BREAK_END}


class JWPlayer(VideoSource):
    name: ClassVar[str] = "jwplayer"
    docs_url: ClassVar[str] = "https://docs.jwplayer.com/players/reference/playback-events"
    ignored_types: ClassVar[Mapping[str, str]] = {
        **VideoSource.ignored_types,
        **dict.fromkeys(
            (
                "ready", "playlistItem", "beforePlay", "playAttempt", "playAttemptFailed", "firstFrame", "idle", "levels",
                "levelsChanged", "playbackRateChanged", "bufferChange", "meta", "adRequest", "adStarted", "adError",
                "adClick", "warning", "volume", "mute", "fullscreen", "autostartNotAllowed", "beforeComplete",
            ),
            "a native event with no semantic event of its own (what it changes is read from the player)",
        ),
        "buffer": "a native event that means nothing in this state by the playback rules",
    }
    video_player: ClassVar[str] = "jwplayer"
    volume_scale: ClassVar[float] = 100.0

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        kind, data = event.type, event.data if isinstance(event.data, dict) else {}
        if kind in PLAIN:
            return [Signal(PLAIN[kind])]
        if kind == "buffer":
            return [Signal(BUFFER_START)] if data.get("newstate", "buffering") == "buffering" else []
        if kind == "seek":
            memo["seek_to"] = number(data.get("offset"))
            return [Signal(SEEK_START, fields={"from": number(data.get("position")), "to": memo["seek_to"]})]
        if kind == "seeked":
            # JW's seeked carries nothing: the playhead is the snapshot's, else where the seek went.
            target = memo.pop("seek_to", None)
            return [Signal(SEEK_END, position=None if (event.player or {}).get("currentTime") is not None else target)]
        if kind == "time":
            return [Signal(TIME, position=number(data.get("position")), fields={"duration": data.get("duration")})]
        if kind in ("error", "mediaError", "setupError"):
            return [Signal(ERROR, fields={"fatal": True})]
        if kind == "visualQuality":
            level = data.get("level") if isinstance(data.get("level"), dict) else {}
            return [Signal(QUALITY, fields={"bitrate": level.get("bitrate"), "quality": level.get("label") or data.get("label"), "height": level.get("height")})]
        if kind == "adBreakStart":
            return [Signal(AD_BREAK_START, fields={"type": data.get("adposition")})]
        if kind == "adImpression":
            return [Signal(AD_START, fields={"title": data.get("adtitle"), "type": data.get("adposition"), "pod_position": data.get("sequence"), "pod_length": data.get("podcount")})]
        if kind == "adTime":
            return [Signal(AD_PROGRESS, fields={"position": data.get("position"), "total_length": data.get("duration"), "pod_position": data.get("sequence"), "pod_length": data.get("podcount")})]
        if kind == "volume" and (volume := number(data.get("volume"))) is not None:
            return [Signal(SNAPSHOT, fields={"snap": {"volume": max(0.0, min(1.0, volume / 100.0))}})]
        if kind == "mute" and isinstance(data.get("mute"), bool):
            return [Signal(SNAPSHOT, fields={"snap": {"muted": data["mute"]}})]
        if kind == "fullscreen" and isinstance(data.get("fullscreen"), bool):
            return [Signal(SNAPSHOT, fields={"snap": {"fullscreen": data["fullscreen"]}})]
        return []


SOURCE = JWPlayer
