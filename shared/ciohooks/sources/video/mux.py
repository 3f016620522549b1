"""Mux Data playback events (as recorded by the tracker) -> Customer.io video semantic events.

Beacon format, sessions, security and the shared semantic rules: ``_source.py`` and
docs/sources/video.md. This module says what each Mux Data event means.

- The canonical event list: https://www.mux.com/docs/guides/mux-data-playback-events
- Custom integrations (what a player integration emits, and when):
  https://www.mux.com/docs/guides/build-a-custom-data-integration,
  https://www.mux.com/docs/guides/data-custom-javascript-integration
- Event names, their documented order and payloads in code: the ``MuxEvents`` and ``AdEvent`` /
  ``ErrorEvent`` / ``RenditionChangeEvent`` / ``TimeUpdateEvent`` types of mux-embed
  (npm ``mux-embed``, dist/types/mux-embed.d.ts)

The tracker sees what the page's Mux integration emits (``mux.emit(player, type, data)``) and
records ``type`` and ``data`` as emitted; ``player`` is read from the media element (volume 0..1).

Mapping (native -> signal -> semantic event, see ``_machine`` for when each fires):

    play                     PLAY          Playback Started (first), Resumed (after a user pause)
    playing                  PLAYING       Content Started (first, after any pre-roll), Buffer
                                           Completed (after rebuffering)
    pause                    PAUSE         Playback Paused, held until the next event: Mux says an
                                           integration fires ``pause`` "just before adbreakstart"
                                           when it breaks for ads, and a player pauses before
                                           ``ended``; neither is the viewer's pause
    seeking / seeked         SEEK_*        Seek Started (no seek_position: Mux does not say the target) / Completed
    rebufferstart, waiting   BUFFER_START  Buffer Started
    rebufferend              BUFFER_END    Buffer Completed
    timeupdate               TIME          Content Playing every 10 s (player_playhead_time, ms)
    ended                    ENDED         Content Completed; Playback Completed once any
                                           post-roll break has ended (or the session ends)
    error                    ERROR         Playback Interrupted; Mux integrations emit ``error`` only
                                           for fatal errors, and one with player_error_severity
                                           "warning" is ignored
    renditionchange          QUALITY       Quality Updated: bitrate <- video_source_bitrate (bits/s),
                                           framerate <- video_source_fps, quality <-
                                           video_source_rendition_name, else the height ("720p")
    adbreakstart             AD_BREAK_START  type <- ad_type (preroll/midroll/postroll)
    adplay (first of an ad)  AD_START      Ad Started: asset_id <- ad_id, type <- ad_type
    adplay (after adpause)   AD_PLAY       Playback Resumed during the ad
    adpause                  AD_PAUSE      Playback Paused during the ad
    adfirstquartile, admidpoint, adthirdquartile
                             AD_QUARTILE   Ad Playing with quartile 1, 2, 3
    adended                  AD_COMPLETE   Ad Completed
    adbreakend               AD_BREAK_END  end of the break (an ad without adended is not completed)
    the others in ``IGNORED`` (playerready, viewinit, viewstart, viewend, videochange,
    programchange, hb, adplaying, adrequest, adresponse, aderror, orientationchange, request*...)
                             -             ignored on purpose, each with its reason; any other
                                           type is unknown (kept)

Mux Data's own metadata (the ``video_*`` fields of "Make your data actionable with metadata",
emitted with ``videochange`` or ``programchange``, or given to ``mux.monitor``'s ``data``, which
the page passes to the tracker as ``playerMetadata``: the beacon's ``player_metadata``) completes
the content properties where the site's ``video`` says nothing:

    video_id -> asset_id                 video_title -> title          video_series -> program
    video_producer -> publisher          video_stream_type "live"/"on-demand" -> livestream
    video_content_type "episode" -> full_episode true; "clip", "trailer", "short" -> false
    video_duration (ms) -> total_length (s), when the player reports no duration
    video_variant_*, video_language_code, video_encoding_variant, video_cdn: no property in the
    spec, not sent

Decisions:

- Mux has no skip event. A skipped ad is one that never reaches ``adended`` before the next
  ``adplay`` or ``adbreakend``: it gets no Ad Completed.
- ``videochange`` (another video in the same player) does not start a new session here: the tracker
  starts one (docs/sources/video.md).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import Beacon, NativeEvent
from ._signals import (
    AD_BREAK_END,
    AD_BREAK_START,
    AD_COMPLETE,
    AD_PAUSE,
    AD_PLAY,
    AD_QUARTILE,
    AD_START,
    BUFFER_END,
    BUFFER_START,
    ENDED,
    ERROR,
    PAUSE,
    PLAY,
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

PLAIN = {"play": PLAY, "playing": PLAYING, "pause": PAUSE, "seeked": SEEK_END, "rebufferstart": BUFFER_START, "waiting": BUFFER_START, "rebufferend": BUFFER_END, "ended": ENDED}
QUARTILES = {"adfirstquartile": 1, "admidpoint": 2, "adthirdquartile": 3}
MAPPED = frozenset({*PLAIN, *QUARTILES, "seeking", "timeupdate", "error", "renditionchange", "adbreakstart", "adplay", "adpause", "adended", "adbreakend"})
VIEW = "the view's life cycle in Mux Data; playback is told by play, playing, ended and the final beacon"
NETWORK = "a network request of the player (Mux's request metrics): no playback meaning"
IGNORED = {
    "playerready": VIEW, "viewinit": VIEW, "viewstart": VIEW, "viewend": VIEW, "hb": "Mux's heartbeat, not playback",
    "videochange": "new content in the same player: the tracker starts a new session (its metadata is read)",
    "programchange": "a new program in a live stream: its metadata is read, no event of its own",
    "adplaying": "adplay starts or resumes the ad; this would repeat it",
    "adrequest": "an ad was requested, none plays yet: adplay starts it",
    "adresponse": "an ad was requested, none plays yet: adplay starts it",
    "aderror": "the ad failed: it never started, or adbreakend ends the break",
    "orientationchange": "the device turned: no playback meaning",
    "playbackmodechange": "the player's presentation mode changed: no playback meaning",
    "requestcompleted": NETWORK, "requestfailed": NETWORK, "requestcanceled": NETWORK,
}
# Mux Data metadata field -> the video property it completes (see the module docstring).
METADATA_TEXT = {"video_id": ("asset_id", 256), "video_title": ("title", 512), "video_series": ("program", 512), "video_producer": ("publisher", 256)}
STREAM_TYPES = {"live": True, "on-demand": False}
CONTENT_TYPES = {"episode": True, "clip": False, "trailer": False, "short": False}


class Mux(VideoSource):
    name: ClassVar[str] = "mux"
    docs_url: ClassVar[str] = "https://www.mux.com/docs/guides/mux-data-playback-events"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "mux"
    mapped_types: ClassVar[frozenset[str]] = MAPPED
    volume_scale: ClassVar[float] = 1.0
    pause_held: ClassVar[bool] = True
    pause_cancelled_by: ClassVar[frozenset[str]] = frozenset({ENDED, AD_BREAK_START, AD_START})
    postroll_after_end: ClassVar[bool] = True

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        kind, data = event.type, event.data if isinstance(event.data, dict) else {}
        if reported := mux_metadata(data):
            memo["metadata"] = {**memo.get("metadata", {}), **reported}
        playhead_ms = number(data.get("player_playhead_time"))
        position = playhead_ms / 1000.0 if playhead_ms is not None else None
        if kind in PLAIN:
            return [Signal(PLAIN[kind], position=position)]
        if kind == "seeking":
            # Mux's seeking reports where the playhead was, not where it is going: the target is
            # unknown until seeked, so Seek Started carries no seek_position (nothing invented).
            return [Signal(SEEK_START, position=position, fields={"from": before.get("position") if before.get("position") is not None else position})]
        if kind == "timeupdate":
            return [Signal(TIME, position=position)]
        if kind == "error":
            return [Signal(ERROR, fields={"fatal": data.get("player_error_severity") != "warning"})]
        if kind == "renditionchange":
            return [Signal(QUALITY, fields={
                "bitrate": data.get("video_source_bitrate"),
                "framerate": data.get("video_source_fps"),
                "quality": data.get("video_source_rendition_name"),
                "height": data.get("video_source_height"),
            })]
        if kind == "adbreakstart":
            memo["ad_active"] = False
            return [Signal(AD_BREAK_START, fields={"type": data.get("ad_type")})]
        if kind == "adplay":
            ad_id = data.get("ad_id")
            if not memo.get("ad_active") or (ad_id is not None and ad_id != memo.get("ad_id")):
                # A new ad: none was playing, or another ad id (the previous one never ended).
                memo.update(ad_active=True, ad_paused=False, ad_id=ad_id)
                return [Signal(AD_START, fields={"asset_id": ad_id, "type": data.get("ad_type")})]
            if memo.get("ad_paused"):
                memo["ad_paused"] = False
                return [Signal(AD_PLAY)]
            return []
        if kind == "adpause":
            memo["ad_paused"] = True
            return [Signal(AD_PAUSE)]
        if kind in QUARTILES:
            return [Signal(AD_QUARTILE, fields={"quartile": QUARTILES[kind]})]
        if kind == "adended":
            memo["ad_active"] = False
            return [Signal(AD_COMPLETE)]
        if kind == "adbreakend":
            memo["ad_active"] = False
            return [Signal(AD_BREAK_END)]
        if (duration_ms := number(data.get("video_duration"))) and snap.get("duration") is None:
            return [Signal(SNAPSHOT, fields={"duration": duration_ms / 1000.0})]
        return []

    def beacon_video(self, beacon: Beacon) -> dict[str, Any]:
        # The page may give the tracker the ``data`` object it gave ``mux.monitor`` (playerMetadata).
        return {**mux_metadata(beacon.player_metadata or {}), **super().beacon_video(beacon)}


def mux_metadata(data: Mapping[str, Any]) -> dict[str, Any]:
    """Mux Data's ``video_*`` metadata in ``data``, as video properties (see the module docstring)."""
    found: dict[str, Any] = {}
    for field, (prop, limit) in METADATA_TEXT.items():
        if (value := text(data.get(field), limit)) is not None:
            found[prop] = value
    stream_type = data.get("video_stream_type")
    if isinstance(stream_type, str) and stream_type.lower() in STREAM_TYPES:
        found["livestream"] = STREAM_TYPES[stream_type.lower()]
    content_type = data.get("video_content_type")
    if isinstance(content_type, str) and content_type.lower() in CONTENT_TYPES:
        found["full_episode"] = CONTENT_TYPES[content_type.lower()]
    return found


SOURCE = Mux
