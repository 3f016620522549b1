"""The player state machine: signals in, Customer.io's 17 video semantic events out.

Semantic rules (same for every player; the player modules map native names onto signals):

- The first play is Video Playback Started; Video Content Started follows when content actually
  plays (after a pre-roll, if there is one). A play after a user pause is Video Playback Resumed; a
  play that ends buffering, follows a seek or an ad break is not.
- A pause at the very end of the media (HTML5 and Vimeo fire ``pause`` just before ``ended``), or
  one the player fires to make room for an ad break (Mux: ``pause`` then ``adbreakstart``), is not
  Video Playback Paused. Where the native order requires it, a pause is held until the next signal
  decides (never across a whole session: the final beacon flushes it).
- Seeks are Seek Started (``position`` = from, ``seek_position`` = to when known) and Seek
  Completed; buffering and plays inside a seek belong to the seek. YouTube has no seek event: a
  playhead jump the elapsed time cannot explain is a seek.
- Buffer Started/Completed only once content has started (start-up loading is not rebuffering).
- Video Content Playing every ``VIDEO_HEARTBEAT_SECONDS`` (10) seconds of *played* content
  playhead (seeking forward does not count).
- Ads: Ad Started / Ad Playing (at each quartile reached, with ``quartile``) / Ad Completed; a
  skipped ad is not Completed. ``type`` is pre-/mid-/post-roll as the player says, else inferred
  from where the break falls. A mid-roll does not complete the content pod: Video Content Completed
  means the content reached its end (``position`` = ``total_length``).
- Video Quality Updated when bitrate, quality label or framerate changes after playback started
  (the first rendition known is not an update); bitrate in kbps (players report bits/s).
- A fatal error after playback started is Video Playback Interrupted (``method``: "player error").
- The final beacon of a session that did not complete is Video Playback Exited. After Playback
  Completed or Exited the session is over: a replay is a new session for the tracker.
- Integers where the spec says integer: positions and lengths are rounded to whole seconds.

Every event emitted names the native event it comes from (``Context.origin``: the beacon's seq
and the event's index in it, or "final" for what the final flag itself causes), its own name, and
how many events of that name the same native event produced before it. ``_source.py`` makes the
messageId of exactly those parts, so ids never depend on a counter kept in the session's state.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any, Mapping

from ...semantic.video import (
    VideoAdCompleted,
    VideoAdPlaying,
    VideoAdStarted,
    VideoContentCompleted,
    VideoContentPlaying,
    VideoContentStarted,
    VideoEvent,
    VideoPlaybackBufferCompleted,
    VideoPlaybackBufferStarted,
    VideoPlaybackCompleted,
    VideoPlaybackExited,
    VideoPlaybackInterrupted,
    VideoPlaybackPaused,
    VideoPlaybackResumed,
    VideoPlaybackSeekCompleted,
    VideoPlaybackSeekStarted,
    VideoPlaybackStarted,
    VideoQualityUpdated,
)
from ._beacon import NativeEvent
from ._signals import (
    AD_BREAK_END,
    AD_BREAK_START,
    AD_COMPLETE,
    AD_PAUSE,
    AD_PLAY,
    AD_PROGRESS,
    AD_QUARTILE,
    AD_SIGNALS,
    AD_SKIP,
    AD_START,
    CONTENT_SIGNALS,
    QUIET,
    SEEK_START,
    Signal,
    ad_type,
    kbps,
    number,
    text,
    whole,
)
from ._state import AdBreak, HeldEvent, PlaybackState

if TYPE_CHECKING:
    from ._source import VideoSource

END_TOLERANCE_SECONDS = 0.5  # a pause this close to the end is the end-of-media pause
FINAL = "final"  # the origin index of what the final flag itself causes (Exited, held events)


@dataclasses.dataclass
class Context:
    """Where a native event sits: its identity in the session, its time and its beacon's facts."""

    t: float
    origin: tuple[int, int | str]  # (beacon seq, index of the event in the beacon) or (seq, FINAL)
    who: dict[str, str]
    video: dict[str, Any]
    session_id: str


class Machine:
    """One session's playback rules over its ``PlaybackState`` (stored between beacons)."""

    def __init__(self, player: VideoSource, state: PlaybackState) -> None:
        self.player = player
        self.s = state
        self.out: list[dict[str, Any]] = []
        self._emitted: Counter[str] = Counter()  # events of each name the current native event made
        self._context: Context | None = None
        self._before: dict[str, Any] = {}  # what was known of the player before the current event
        self.heartbeat = player.heartbeat_seconds

    # -- feeding ---------------------------------------------------------------------------------

    def feed(self, event: NativeEvent, context: Context) -> None:
        """Run one native event."""
        self._enter(context)
        snap = self.s.snap
        before = self._before = dict(snap)
        snap.update(self.player.snapshot(event.player or {}))
        signals = self.player.signals(event, self.s.memo, before, snap)
        context.video = self.player.content_metadata(context.video, self.s.memo)
        for signal in signals:
            if signal.position is not None:
                snap["position"] = signal.position
            if (duration := number(signal.fields.get("duration"))) is not None:
                snap["duration"] = duration
            snap.update(signal.fields.get("snap") or {})  # what the event's data says of the player
            self._handle(signal)

    def finish(self, context: Context) -> None:
        """The final beacon: the session ends here."""
        self._enter(context)
        context.video = self.player.content_metadata(context.video, self.s.memo)
        if self.s.closed:
            return
        self._resolve_pending_pause(None)
        if self.s.pending_complete is not None:
            self._resolve_pending_complete()
        elif self.s.started:
            self._emit(VideoPlaybackExited, self._playback_props())
        self.s.closed = True

    def _enter(self, context: Context) -> None:
        self._context = context
        self._emitted.clear()

    @property
    def context(self) -> Context:
        assert self._context is not None, "feed() or finish() sets the context"
        return self._context

    # -- rules -----------------------------------------------------------------------------------

    def _handle(self, signal: Signal) -> None:
        s, kind = self.s, signal.kind
        if s.closed:
            return
        if kind not in QUIET:
            self._resolve_pending_pause(signal)
            if s.pending_complete is not None and kind not in AD_SIGNALS:
                self._resolve_pending_complete()
                return
        if kind in AD_SIGNALS:
            self._ad(signal)
            return
        if s.ad.in_break and kind in CONTENT_SIGNALS:
            return  # content signals during an ad break (players keep the content element around)
        getattr(self, f"_on_{kind}")(signal)

    def _on_play(self, signal: Signal) -> None:
        s = self.s
        if not s.started:
            self._start_playback()
            s.state = "starting"
        elif s.state in ("paused", "interrupted"):
            self._emit(VideoPlaybackResumed, self._playback_props())
            s.state = "playing"
            self._rebase()

    def _on_playing(self, signal: Signal) -> None:
        s = self.s
        if not s.started:
            self._start_playback()
        if not s.content_started:
            s.content_started = True
            self._emit(VideoContentStarted, self._content_props())
            s.state = "playing"
            self._rebase()
            return
        if s.state in ("paused", "interrupted"):
            self._emit(VideoPlaybackResumed, self._playback_props())
        elif s.state == "buffering":
            self._emit(VideoPlaybackBufferCompleted, self._playback_props())
        elif s.state == "seeking":
            return  # the seek's own resumption: Seek Completed says it
        s.state = "playing"
        self._rebase()

    def _on_pause(self, signal: Signal) -> None:
        s = self.s
        if not s.started or s.state in ("paused", "idle", "ended") or (s.state == "seeking" and s.before_seek == "paused"):
            return
        if self._at_end():
            return  # HTML5 "reaches the end" steps: pause, then ended. Not the viewer's pause.
        props = self._playback_props()
        if self.player.pause_held:
            s.pending_pause = HeldEvent(props, self.context.t, self._reserve(VideoPlaybackPaused), self.context.who, was=s.state)
        else:
            self._emit(VideoPlaybackPaused, props)
        if s.state == "seeking":
            s.before_seek = "paused"  # the seek still completes; then the player stays paused
        else:
            s.state = "paused"

    def _on_seek_start(self, signal: Signal) -> None:
        s = self.s
        if not s.started:
            return
        to = number(signal.fields.get("to"))
        if s.state == "seeking":
            s.seek_to = to if to is not None else s.seek_to  # one seek, dragged further
            return
        start = signal.fields.get("from")
        props = self._playback_props(position=number(start) if start is not None else None)
        if whole(to) is not None:
            props["seek_position"] = whole(to)
        self._emit(VideoPlaybackSeekStarted, props)
        s.before_seek = "paused" if s.state in ("paused", "interrupted") else ("idle" if s.state == "idle" else "playing")
        s.state, s.seek_to = "seeking", to

    def _on_seek_end(self, signal: Signal) -> None:
        s = self.s
        if s.state != "seeking":
            return
        self._emit(VideoPlaybackSeekCompleted, self._playback_props())
        s.state, s.seek_to = s.before_seek or "playing", None
        self._rebase()

    def _on_buffer_start(self, signal: Signal) -> None:
        s = self.s
        if s.content_started and s.state == "playing":
            self._emit(VideoPlaybackBufferStarted, self._playback_props())
            s.state = "buffering"

    def _on_buffer_end(self, signal: Signal) -> None:
        s = self.s
        if s.state == "buffering":
            self._emit(VideoPlaybackBufferCompleted, self._playback_props())
            s.state = "playing"
            self._rebase()

    def _on_time(self, signal: Signal) -> None:
        s = self.s
        position, now = number(s.snap.get("position")), self.context.t
        if position is None:
            return
        last, last_t = s.last_pos, s.last_t
        s.last_pos, s.last_t = position, now
        if s.state != "playing" or not s.content_started or last is None or last_t is None:
            return
        elapsed = max(0.0, (now - last_t) / 1000.0) * max(1.0, number(s.snap.get("rate")) or 1.0)
        delta = position - last
        if not 0 < delta <= elapsed + 2.0:
            return  # backwards, or a jump the clock cannot explain: not played time
        s.played += delta
        if s.played >= self.heartbeat:
            s.played %= self.heartbeat
            self._emit(VideoContentPlaying, self._content_props())

    def _on_ended(self, signal: Signal) -> None:
        s = self.s
        if not s.started:
            return
        duration = number(s.snap.get("duration"))
        if duration is not None:
            s.snap["position"] = duration
        if s.content_started and not s.content_completed:
            s.content_completed = True
            self._emit(VideoContentCompleted, self._content_props())
        s.state = "ended"
        if self.player.postroll_after_end:
            s.pending_complete = HeldEvent(self._playback_props(), self.context.t, self._reserve(VideoPlaybackCompleted), self.context.who)
        else:
            self._emit(VideoPlaybackCompleted, self._playback_props())
            s.closed = True

    def _on_quality(self, signal: Signal) -> None:
        s, snap, f = self.s, self.s.snap, signal.fields
        if (bitrate := number(f.get("bitrate"))) is not None:
            snap["bitrate"] = bitrate
        if (framerate := number(f.get("framerate"))) is not None:
            snap["framerate"] = framerate
        label = text(f.get("quality"), 64)
        if label is None and (height := whole(number(f.get("height")))):
            label = f"{height}p"  # the rendition's height, as players label it ("720p")
        if label is not None:
            snap["quality"] = label
        key = _quality_key(snap)
        known = s.quality if s.quality is not None else _quality_key(self._before)
        s.quality = key
        if key == known or key == [None, None, None]:
            return
        if s.started and known != [None, None, None]:  # the first rendition known is not an update
            props = {"session_id": self.context.session_id, "bitrate": key[0], "quality": key[1], "framerate": key[2]}
            self._emit(VideoQualityUpdated, props)

    def _on_error(self, signal: Signal) -> None:
        s = self.s
        if not signal.fields.get("fatal") or not s.started or s.state == "interrupted":
            return
        self._emit(VideoPlaybackInterrupted, {**self._playback_props(), "method": "player error"})
        s.state = "interrupted"

    def _on_snapshot(self, signal: Signal) -> None:
        return

    # -- ads -------------------------------------------------------------------------------------

    def _ad(self, signal: Signal) -> None:
        s, ad, kind, f = self.s, self.s.ad, signal.kind, signal.fields
        if kind == AD_BREAK_START or (kind == AD_START and not ad.in_break):
            if not s.started:
                self._start_playback()
            ad.in_break, ad.active = True, False
            ad.type = ad_type(f.get("type")) or self._inferred_ad_type()
            ad.pod_id = text(f.get("pod_id"))
            if kind == AD_BREAK_START:
                return
        if kind == AD_START:
            if t := ad_type(f.get("type")):
                ad.type = t
            ad.active, ad.quartile, ad.paused = True, 0, False
            ad.info = {k: v for k, v in f.items() if v is not None and k in ("asset_id", "title", "publisher", "pod_position", "pod_length", "total_length", "position")}
            self._emit(VideoAdStarted, self._ad_props(position=0))
        elif not ad.active:
            if kind == AD_BREAK_END:
                self._end_break()
            return  # progress/complete/skip for an ad we never saw start
        elif kind == AD_PROGRESS:
            for key in ("position", "total_length", "pod_position", "pod_length"):
                if (value := number(f.get(key))) is not None:
                    ad.info[key] = value
            position, length = number(ad.info.get("position")), number(ad.info.get("total_length"))
            if position is not None and length:
                self._ad_quartile(min(3, int(4 * position / length)))
        elif kind == AD_QUARTILE:
            self._ad_quartile(int(f.get("quartile") or 0))
        elif kind == AD_COMPLETE:
            self._emit(VideoAdCompleted, self._ad_props(position=number(ad.info.get("total_length"))))
            ad.active = False
        elif kind == AD_SKIP:
            ad.active = False  # skipped: deliberately not Ad Completed
        elif kind == AD_PAUSE and not ad.paused:
            ad.paused = True
            self._emit(VideoPlaybackPaused, self._playback_props())
        elif kind == AD_PLAY and ad.paused:
            ad.paused = False
            self._emit(VideoPlaybackResumed, self._playback_props())
        elif kind == AD_BREAK_END:
            self._end_break()

    def _end_break(self) -> None:
        self.s.ad = AdBreak()
        if self.s.pending_complete is not None:
            self._resolve_pending_complete(at_end_of_break=True)

    def _ad_quartile(self, quartile: int) -> None:
        ad = self.s.ad
        if 1 <= quartile <= 3 and quartile > ad.quartile:
            ad.quartile = quartile
            self._emit(VideoAdPlaying, {**self._ad_props(), "quartile": quartile})

    def _inferred_ad_type(self) -> str:
        if not self.s.content_started:
            return "pre-roll"
        return "post-roll" if self.s.content_completed else "mid-roll"

    # -- held events -----------------------------------------------------------------------------

    def _resolve_pending_pause(self, signal: Signal | None) -> None:
        pending = self.s.pending_pause
        if pending is None:
            return
        self.s.pending_pause = None
        if signal is not None:
            window = self.player.scrub_window_ms
            scrub = signal.kind == SEEK_START and window is not None and self.context.t - pending.t <= window
            if signal.kind in self.player.pause_cancelled_by or scrub:
                # The player paused itself (for the end, an ad break, a scrub): not the viewer.
                if pending.was == "seeking":
                    self.s.before_seek = "playing"
                elif pending.was is not None:
                    self.s.state = pending.was
                return
        self._emit(VideoPlaybackPaused, pending.props, at=pending.t, held=pending)

    def _resolve_pending_complete(self, at_end_of_break: bool = False) -> None:
        """Playback Completed, held at ``ended`` for a post-roll: it completes when the post-roll
        break ends; otherwise it completed when the content ended."""
        pending, self.s.pending_complete = self.s.pending_complete, None
        assert pending is not None
        self._emit(VideoPlaybackCompleted, pending.props, at=self.context.t if at_end_of_break else pending.t, held=pending)
        self.s.closed = True

    # -- helpers ---------------------------------------------------------------------------------

    def _start_playback(self) -> None:
        self.s.started = True
        props = self._playback_props()
        video = self.context.video
        if video.get("asset_id"):
            props["content_asset_ids"] = [video["asset_id"]]
        if video.get("pod_id"):
            props["content_pod_ids"] = [video["pod_id"]]
        self._emit(VideoPlaybackStarted, props)

    def _rebase(self) -> None:
        """Played time is counted from here (after a start, resume, seek or rebuffer)."""
        self.s.last_pos, self.s.last_t = number(self.s.snap.get("position")), self.context.t

    def _at_end(self) -> bool:
        snap = self.s.snap
        if snap.get("ended") is True:
            return True
        position, duration = number(snap.get("position")), number(snap.get("duration"))
        return position is not None and bool(duration) and not snap.get("live") and position >= duration - END_TOLERANCE_SECONDS

    def _reserve(self, cls: type[VideoEvent]) -> list[Any]:
        """The messageId parts of the next ``cls`` event of the current native event: its origin,
        the event's name, and how many of that name the native event produced before."""
        seq, index = self.context.origin
        ordinal = self._emitted[cls.name]
        self._emitted[cls.name] += 1
        return [seq, index, cls.name, ordinal]

    def _emit(self, cls: type[VideoEvent], props: dict[str, Any], at: float | None = None, held: HeldEvent | None = None) -> None:
        self.out.append({
            "event": cls.name,
            "props": {k: v for k, v in props.items() if v is not None},
            "t": self.context.t if at is None else at,
            "id": held.id if held is not None else self._reserve(cls),
            "who": held.who if held is not None else self.context.who,
        })

    def _livestream(self) -> bool | None:
        video_live = self.context.video.get("livestream")
        if isinstance(video_live, bool):
            return video_live
        player_live = self.s.snap.get("live")
        return player_live if isinstance(player_live, bool) else None

    def _length(self) -> int | None:
        return None if self._livestream() else whole(number(self.s.snap.get("duration")))

    def _playback_props(self, position: float | None = None) -> dict[str, Any]:
        snap, ad = self.s.snap, self.s.ad
        props: dict[str, Any] = {
            "session_id": self.context.session_id,
            "position": whole(position if position is not None else number(snap.get("position"))),
            "total_length": self._length(),
            "bitrate": whole(kbps(snap.get("bitrate"))),
            "framerate": whole(number(snap.get("framerate"))),
            "video_player": self.player.video_player,
            "sound": self._sound(),
            "full_screen": snap.get("fullscreen") if isinstance(snap.get("fullscreen"), bool) else None,
            "quality": text(snap.get("quality"), 64),
            "livestream": self._livestream(),
        }
        if ad.in_break:
            props["ad_type"] = ad.type
            props["ad_pod_id"] = ad.pod_id
            if ad.active:
                props["ad_asset_id"] = text(ad.info.get("asset_id"))
        return props

    def _content_props(self) -> dict[str, Any]:
        snap = self.s.snap
        props = {k: v for k, v in self.context.video.items() if k != "livestream"}
        props.update(
            session_id=self.context.session_id,
            position=whole(number(snap.get("position"))),
            total_length=self._length(),
            bitrate=whole(kbps(snap.get("bitrate"))),
            framerate=whole(number(snap.get("framerate"))),
            livestream=self._livestream(),
        )
        return props

    def _ad_props(self, position: float | None = None) -> dict[str, Any]:
        ad = self.s.ad
        return {
            "session_id": self.context.session_id,
            "asset_id": text(ad.info.get("asset_id")),
            "pod_id": ad.pod_id,
            "pod_position": whole(number(ad.info.get("pod_position"))),
            "pod_length": whole(number(ad.info.get("pod_length"))),
            "type": ad.type,
            "title": text(ad.info.get("title"), 512),
            "publisher": text(ad.info.get("publisher")),
            "position": whole(position if position is not None else number(ad.info.get("position"))),
            "total_length": whole(number(ad.info.get("total_length"))),
        }

    def _sound(self) -> int | None:
        snap = self.s.snap
        if snap.get("muted") is True:
            return 0
        volume = number(snap.get("volume"))
        return None if volume is None else max(0, min(100, whole(volume * 100) or 0))


def _quality_key(snap: Mapping[str, Any]) -> list[Any]:
    return [whole(kbps(snap.get("bitrate"))), text(snap.get("quality"), 64), whole(number(snap.get("framerate")))]
