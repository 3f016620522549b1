"""Bitmovin Player Web events (as recorded by the tracker) -> Customer.io video semantic events.

Bitmovin Player (v8, ``player.on(PlayerEvent.X, fn)``) is the commercial player many broadcasters
and enterprises use for DRM and adaptive streaming; its events have their own names and payloads,
so this module maps them, served at ``POST /bitmovin``. Why Bitmovin: with THEOplayer and Kaltura the
enterprise web player customers name most; its event API is public and stable across v8.

- Event names: ``PlayerEvent`` enum of Bitmovin Player Web v8 (the string values, e.g.
  ``StallStarted = "stallstarted"``; as re-declared in public integrations, e.g. Red Bee Media's
  analytics SDK); payloads: PlayEvent/PlayingEvent/PausedEvent ``time``, SeekEvent ``position``,
  ``seekTarget``, TimeChangedEvent ``time``, AdStartedEvent ``ad``, AdQuartileEvent ``quartile``
  (https://developer.bitmovin.com/playback/docs/player-web-api-reference)
- Snapshot from the getters: getCurrentTime, getDuration, getVolume (0..100), isMuted, isPaused,
  getViewMode, getPlaybackSpeed, getPlaybackVideoData ({bitrate, width, height, label}), isLive

Mapping (native -> signal -> semantic event, see ``_machine`` for when each fires):

    play                      PLAY          Playback Started (first), Resumed (after a user pause)
    playing                   PLAYING       Content Started (first), Buffer Completed, Resumed
    paused                    PAUSE         Playback Paused (held: dropped when the end or an ad
                                            break follows, the player's own pause)
    seek                      SEEK_START    Seek Started (position <- data.position, seek_position
                                            <- data.seekTarget)
    seeked                    SEEK_END      Seek Completed
    timechanged               TIME          Content Playing every 10 s of played time (data.time)
    stallstarted, stallended  BUFFER_START/END  Buffer Started / Completed
    playbackfinished          ENDED         Content Completed + Playback Completed
    videoplaybackqualitychanged  QUALITY    Quality Updated: targetQuality's bitrate (bits/s, sent in
                                            kbps), height, label (else the snapshot's)
    error                     ERROR         Playback Interrupted (player errors are fatal)
    adbreakstarted            AD_BREAK_START
    adstarted                 AD_START      Ad Started: asset_id <- ad.id, total_length <- ad.duration
    adquartile                AD_QUARTILE   Ad Playing (first, midpoint, third)
    adfinished                AD_COMPLETE   Ad Completed
    adskipped                 AD_SKIP       nothing: a skipped ad is not completed
    adbreakfinished           AD_BREAK_END
    the others in ``IGNORED`` -> ignored on purpose, each with its reason; any other type is unknown
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import NativeEvent
from ._signals import (
    AD_BREAK_END, AD_BREAK_START, AD_COMPLETE, AD_QUARTILE, AD_SKIP, AD_START, BUFFER_END, BUFFER_START, ENDED, ERROR, PAUSE, PLAY,
    PLAYING, QUALITY, SEEK_END, SEEK_START, TIME, Signal, number, text,
)  # fmt: skip
from ._source import VideoSource
from .html5 import READ_FROM_SNAPSHOT

PLAIN = {
    "play": PLAY, "playing": PLAYING, "paused": PAUSE, "seeked": SEEK_END, "stallstarted": BUFFER_START, "stallended": BUFFER_END,
    "playbackfinished": ENDED, "error": ERROR, "adbreakstarted": AD_BREAK_START, "adfinished": AD_COMPLETE, "adskipped": AD_SKIP,
    "adbreakfinished": AD_BREAK_END,
}
# AdQuartile values: the Web SDK's "firstQuartile"/"midpoint"/"thirdQuartile" (and "first"/"mid_point"/"third").
QUARTILES = {"firstquartile": 1, "first": 1, "midpoint": 2, "mid_point": 2, "thirdquartile": 3, "third": 3}
MAPPED = frozenset({*PLAIN, "seek", "timechanged", "videoplaybackqualitychanged", "adstarted", "adquartile"})
IGNORED = {
    "ready": "the player is set up; nothing played yet",
    "sourceloaded": "new content loaded: the tracker starts a new session",
    "sourceunloaded": "the content was unloaded: the final beacon ends the session",
    "volumechanged": READ_FROM_SNAPSHOT, "muted": READ_FROM_SNAPSHOT, "unmuted": READ_FROM_SNAPSHOT,
    "viewmodechanged": READ_FROM_SNAPSHOT, "playbackspeedchanged": READ_FROM_SNAPSHOT,
    "warning": "non-fatal: playback goes on",
    "aderror": "the ad failed: it never started, or adbreakfinished ends the break",
    "adclicked": "a click on the ad: no semantic event",
    "admanifestloaded": "an ad was fetched, none plays yet: adstarted starts it",
    "adlinearitychanged": "a non-linear ad's layout: no semantic event",
}


class Bitmovin(VideoSource):
    name: ClassVar[str] = "bitmovin"
    docs_url: ClassVar[str] = "https://developer.bitmovin.com/playback/docs/player-web-api-reference"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "bitmovin"
    mapped_types: ClassVar[frozenset[str]] = MAPPED
    volume_scale: ClassVar[float] = 100.0
    pause_held: ClassVar[bool] = True
    pause_cancelled_by: ClassVar[frozenset[str]] = frozenset({ENDED, AD_BREAK_START, AD_START})

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        kind, data = event.type, event.data if isinstance(event.data, dict) else {}
        if kind == "error":
            return [Signal(ERROR, fields={"fatal": True})]
        if kind in PLAIN:
            return [Signal(PLAIN[kind])]
        if kind == "seek":
            return [Signal(SEEK_START, fields={"from": number(data.get("position")), "to": number(data.get("seekTarget"))})]
        if kind == "timechanged":
            return [Signal(TIME, position=number(data.get("time")))]
        if kind == "videoplaybackqualitychanged":
            target = data.get("targetQuality") if isinstance(data.get("targetQuality"), dict) else {}
            player = event.player or {}
            return [Signal(QUALITY, fields={
                "bitrate": target.get("bitrate", player.get("bitrate")), "height": target.get("height", player.get("height")),
                "quality": target.get("label") or player.get("quality"),
            })]
        if kind == "adstarted":
            ad = data.get("ad") if isinstance(data.get("ad"), dict) else {}
            return [Signal(AD_START, fields={"asset_id": text(ad.get("id")), "total_length": number(ad.get("duration"))})]
        if kind == "adquartile":
            quartile = QUARTILES.get(str(data.get("quartile") or "").lower())
            return [Signal(AD_QUARTILE, fields={"quartile": quartile})] if quartile else []
        return []


SOURCE = Bitmovin
