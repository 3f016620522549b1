"""JW Player ``on(...)`` events (as recorded by the tracker) -> Customer.io video semantic events.

Beacon format, sessions, security and the shared semantic rules: ``_source.py`` and
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

Mapping (native -> signal -> semantic event, see ``_machine`` for when each fires):

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
    playlistItem    (metadata)    content metadata where the site's ``video`` is silent: asset_id <-
                                  item.mediaid, title <- item.title, description <- item.description
    the others in ``IGNORED`` below (ready, beforePlay, playAttempt, firstFrame, idle, levels,
    levelsChanged, playbackRateChanged, bufferChange, meta, adRequest, adStarted, adError, adClick,
    warning, ...) -> ignored on purpose, each with its reason; any other type is unknown (kept)

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

from ._beacon import NativeEvent
from ._signals import (
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
    Signal,
    number,
    text,
)
from ._source import VideoSource

PLAIN = {"play": PLAYING, "pause": PAUSE, "complete": ENDED, "adComplete": AD_COMPLETE, "adSkipped": AD_SKIP, "adPause": AD_PAUSE, "adPlay": AD_PLAY, "adBreakEnd": AD_BREAK_END}
MAPPED = frozenset({
    *PLAIN, "buffer", "seek", "seeked", "time", "error", "mediaError", "setupError", "visualQuality", "adBreakStart",
    "adImpression", "adTime", "volume", "mute", "fullscreen", "playlistItem",
})
SETUP = "player set-up or a request to play: playback starts with play (or adBreakStart)"
IGNORED = {
    "ready": SETUP, "beforePlay": SETUP, "playAttempt": SETUP, "firstFrame": SETUP,
    "playAttemptFailed": "nothing played (autoplay blocked, or an error): no playback to report",
    "autostartNotAllowed": "nothing played (autoplay blocked): no playback to report",
    "beforeComplete": "where post-rolls are inserted; complete follows and is Content Completed",
    "idle": "the player stopped or was reset; complete, error or the final beacon say why",
    "levels": "the renditions on offer, not the one shown: visualQuality is",
    "levelsChanged": "the menu selection (Auto included), not the rendition shown: visualQuality is",
    "playbackRateChanged": "the rate is read from the player snapshot",
    "bufferChange": "how much is loaded ahead, not a stall: buffer is",
    "meta": "stream metadata (ID3, EXT-X tags) without a semantic event",
    "adRequest": "an ad was requested, none plays yet: adImpression starts it",
    "adStarted": "adImpression is Ad Started; this would start the same ad twice",
    "adError": "the ad failed to load or play: it never started, or adSkipped/adBreakEnd ends it",
    "adClick": "a click on the ad: no semantic event",
    "warning": "non-fatal: playback goes on",
}


class JWPlayer(VideoSource):
    name: ClassVar[str] = "jwplayer"
    docs_url: ClassVar[str] = "https://docs.jwplayer.com/players/reference/playback-events"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "jwplayer"
    mapped_types: ClassVar[frozenset[str]] = MAPPED
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
        if kind == "playlistItem" and isinstance(data.get("item"), dict):
            memo["metadata"] = playlist_item_metadata(data["item"])
        return []


def playlist_item_metadata(item: dict[str, Any]) -> dict[str, Any]:
    """What JW's playlist item says of the content (``mediaid``, ``title``, ``description``: the
    playlistItem event's ``item``), for the content events where the site's ``video`` is silent."""
    found = {"asset_id": text(item.get("mediaid")), "title": text(item.get("title"), 512), "description": text(item.get("description"), 4096)}
    return {k: v for k, v in found.items() if v is not None}


SOURCE = JWPlayer
