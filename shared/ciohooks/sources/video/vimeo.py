"""Vimeo player.js events (as recorded by the tracker) -> Customer.io video semantic events.

Beacon format, sessions, security and the shared semantic rules: ``_source.py`` and
docs/sources/video.md. This module says what each player.js event means.

- Events and their data: https://github.com/vimeo/player.js#events
  (README.md at 0ab23a7d5c1a641a4ef2728706b7062d7fb35650, "Events")
- Getters the tracker reads for ``player`` (getVolume 0..1, getCurrentTime, getDuration, getQuality,
  getFullscreen): https://github.com/vimeo/player.js#methods

player.js delivers ``{duration, percent, seconds}`` with play, playing, pause, ended, timeupdate,
seeking and seeked; the tracker records it as ``data``. Those ``seconds`` are the playhead the event
refers to, so they win over the snapshot (which the tracker reads asynchronously).

Mapping (native -> signal -> semantic event, see ``_machine`` for when each fires):

    play                PLAY          Playback Started (first), Resumed (after a user pause)
    playing             PLAYING       Content Started (first), Resumed (after a pause, if play
                                      was not seen); nothing after a seek or buffering
    pause               PAUSE         Playback Paused, except at the very end (seconds at duration,
                                      percent 1): the end-of-media pause is ignored
    seeking             SEEK_START    Seek Started (position = last known, seek_position = seconds)
    seeked              SEEK_END      Seek Completed
    bufferstart         BUFFER_START  Buffer Started (player.js also fires it "during preload and while
    bufferend           BUFFER_END    Buffer Completed   seeking": those are ignored by the rules)
    timeupdate          TIME          Content Playing every 10 s of played playhead
    ended               ENDED         Content Completed + Playback Completed
    qualitychange       QUALITY       Quality Updated with ``quality`` ("720p"); "auto" is a setting,
                                      not a rendition, and is ignored
    resize              QUALITY       Quality Updated when the rendition's height changes ("1080p")
    error               ERROR         Playback Interrupted when the error is the player's own (no
                                      ``method``); errors of an API call (``method`` set, e.g. a
                                      refused ``setColor``) are ignored
    volumechange        (snapshot)    volume 0..1 -> sound;  fullscreenchange -> full_screen
    durationchange      (snapshot)    duration -> total_length;  playbackratechange -> rate
    loaded {id}         (metadata)    asset_id <- id, where the site's ``video`` is silent
    progress, texttrackchange, chapterchange, cuechange, cuepoint, camerachange,
    enterpictureinpicture, leavepictureinpicture, remoteplayback*, interactive* -> ignored on
    purpose (``IGNORED``); any other type is unknown (kept)

Decisions:

- Vimeo documents no severity on ``error``; an error that does not name the API method that caused
  it is taken as a playback failure. UNVERIFIED against a live network failure.
- ``loaded`` with another video id (a new video in the same player) is not a new session: the
  tracker starts one (docs/sources/video.md).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import NativeEvent
from ._signals import BUFFER_END, BUFFER_START, ENDED, ERROR, PAUSE, PLAY, PLAYING, QUALITY, SEEK_END, SEEK_START, SNAPSHOT, TIME, Signal, number, text
from ._source import VideoSource

TIMED = {"play": PLAY, "playing": PLAYING, "pause": PAUSE, "seeked": SEEK_END, "timeupdate": TIME, "ended": ENDED}
MAPPED = frozenset({
    *TIMED, "seeking", "bufferstart", "bufferend", "qualitychange", "resize", "error", "volumechange", "fullscreenchange",
    "durationchange", "playbackratechange", "loaded",
})
NO_PLAYBACK_MEANING = "no semantic event describes it"
# The other events of player.js's README ("Events").
IGNORED = {
    "progress": "loading progress: start-up loading is not rebuffering (bufferstart is)",
    "texttrackchange": NO_PLAYBACK_MEANING, "chapterchange": NO_PLAYBACK_MEANING, "cuechange": NO_PLAYBACK_MEANING,
    "cuepoint": NO_PLAYBACK_MEANING, "camerachange": NO_PLAYBACK_MEANING,
    "enterpictureinpicture": NO_PLAYBACK_MEANING, "leavepictureinpicture": NO_PLAYBACK_MEANING,
    "remoteplaybackavailabilitychange": NO_PLAYBACK_MEANING, "remoteplaybackconnecting": NO_PLAYBACK_MEANING,
    "remoteplaybackconnect": NO_PLAYBACK_MEANING, "remoteplaybackdisconnect": NO_PLAYBACK_MEANING,
    "interactivehotspotclicked": NO_PLAYBACK_MEANING, "interactiveoverlaypanelclicked": NO_PLAYBACK_MEANING,
}


class Vimeo(VideoSource):
    name: ClassVar[str] = "vimeo"
    docs_url: ClassVar[str] = "https://github.com/vimeo/player.js#events"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "vimeo"
    mapped_types: ClassVar[frozenset[str]] = MAPPED
    volume_scale: ClassVar[float] = 1.0

    def snapshot(self, player: Mapping[str, Any]) -> dict[str, Any]:
        out = super().snapshot(player)
        if str(out.get("quality", "")).lower() == "auto":
            del out["quality"]  # getQuality() returns the setting; "auto" names no rendition
        return out

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        kind, data = event.type, event.data if isinstance(event.data, dict) else {}
        seconds, duration = number(data.get("seconds")), number(data.get("duration"))
        timing = {"duration": duration} if duration else {}
        if kind in TIMED:
            fields = dict(timing)
            if kind == "pause" and number(data.get("percent")) == 1:
                fields["snap"] = {"ended": True}
            return [Signal(TIMED[kind], position=seconds, fields=fields)]
        if kind == "seeking":
            return [Signal(SEEK_START, position=seconds, fields={**timing, "from": before.get("position"), "to": seconds if seconds is not None else snap.get("position")})]
        if kind == "bufferstart":
            return [Signal(BUFFER_START)]
        if kind == "bufferend":
            return [Signal(BUFFER_END)]
        if kind == "qualitychange":
            quality = data.get("quality")
            if isinstance(quality, str) and quality.lower() != "auto":
                return [Signal(QUALITY, fields={"quality": quality})]
            return []
        if kind == "resize":
            return [Signal(QUALITY, fields={"height": data.get("videoHeight")})]
        if kind == "error":
            return [Signal(ERROR, fields={"fatal": not data.get("method")})]
        if kind == "volumechange" and (volume := number(data.get("volume"))) is not None:
            return [Signal(SNAPSHOT, fields={"snap": {"volume": max(0.0, min(1.0, volume))}})]
        if kind == "fullscreenchange" and isinstance(data.get("fullscreen"), bool):
            return [Signal(SNAPSHOT, fields={"snap": {"fullscreen": data["fullscreen"]}})]
        if kind == "durationchange" and duration:
            return [Signal(SNAPSHOT, fields={"snap": {"duration": duration}})]
        if kind == "playbackratechange" and (rate := number(data.get("playbackRate"))) is not None:
            return [Signal(SNAPSHOT, fields={"snap": {"rate": rate}})]
        if kind == "loaded" and (video_id := text(data.get("id"))) is not None:
            memo["metadata"] = {"asset_id": video_id}  # the Vimeo video id, where the site's video is silent
        return []


SOURCE = Vimeo
