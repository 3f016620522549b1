"""What every video player source shares: the beacon, the endpoint's hygiene, the session, and the
state machine that turns a player's native events into Customer.io's 17 video semantic events.

Video players send no server webhooks. A small tracker in the page (``web/``) listens to the
player's own events and posts them, in order, as *beacons* to ``POST /<player>`` on the video
Function URL. Each player module (``html5.py``, ``jwplayer.py``, ``vimeo.py``, ``youtube.py``,
``mux.py``, ``videojs.py``) only says how its native events read as a small vocabulary of
*signals* (play, playing, pause, seek, buffer, ended, time, quality, ad..., error); this module
does the rest. The full reference, with examples, is docs/sources/video.md.

The beacon (JSON; ``Content-Type`` application/json or text/plain, so ``navigator.sendBeacon`` can
post it without a CORS preflight)::

    {
      "session_id": "4f1c...",         one playback session of one player on one page (a UUID)
      "anonymousId": "a-123",          or "userId" (if both are sent, userId wins: the spec allows one)
      "seq": 0,                        0, 1, 2, ... one per beacon of the session
      "sent_t": 15230,                 optional: when it was sent, in ms on the events' clock
      "final": true,                   optional: the session is over (page hide, player removed)
      "write_key": "wk_...",           optional: the site's write key (or header X-CIO-Write-Key,
                                       or query ?write_key=); sendBeacon cannot set headers
      "video": {"asset_id": "...", "title": "...", ...}     content metadata, as the site knows it
      "events": [{"t": 0, "type": "play", "data": null,
                  "player": {"currentTime": 0, "duration": 61.86, "volume": 1, "muted": false, ...}}]
    }

``t`` is milliseconds since the session started (``performance.now()`` based). ``type`` and
``data`` are the player's own event name and callback argument; ``player`` is what the tracker
could read from the player at that moment (keys: currentTime and duration in seconds, volume on the
player's own scale, muted, fullscreen, quality, bitrate in bits/s, framerate, live, playbackRate,
width, height, ended, paused). ``video`` keys: asset_id, pod_id, program, title, description,
season, episode, genre, publisher, channel, full_episode, livestream, airdate, keywords; others are
ignored.

Semantic rules (same for every player; the modules map native names onto them):

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

Sessions across beacons (``ciohooks.video_sessions``): beacons are processed in ``seq`` order,
whatever order they arrive in. One that arrives early waits (buffered) for the missing ones, for at
most ``VIDEO_GAP_TIMEOUT_SECONDS`` (30) or ``VIDEO_MAX_BUFFERED_BEACONS`` (16) beacons; then, or
when the final beacon is among them, the gap is given up as lost and a straggler arriving later is
ignored. A beacon received again yields exactly what it yielded the first time (same
``messageId``s, deduplicated downstream): ingest translates before it queues, so a retry after a
failed enqueue must not come back empty. The last ``VIDEO_REPLAY_RESULTS`` (8) results are kept.

``messageId`` = UUIDv5(player source, session_id, index of the native event in the session, index
of the semantic event among those it produced): a retried, split or reordered beacon gives the
same ids. Timestamps: the session's clock is anchored once, at the first beacon received
(received time minus ``sent_t``, or minus its last event's ``t``), and each event is anchor + ``t``.

Endpoint hygiene, and its honest limits (threat model):

- The write key (``VIDEO_WRITE_KEYS``: comma-separated, one per site; header ``X-CIO-Write-Key``,
  query ``write_key`` or body field ``write_key``) is **public**: it ships in the page's JavaScript,
  so anyone can read it and post beacons with it. It tells sites apart, lets a leaked key be
  rotated, and stops casual scripts and crawlers; it does not authenticate anyone. Without any key
  configured the endpoint fails closed (503) unless ``ALLOW_UNSIGNED`` is on.
- The ``Origin`` allow-list (``VIDEO_ALLOWED_ORIGINS``, comma-separated, ``*`` or unset: any) only
  binds browsers, which cannot lie about Origin. curl can send any Origin it likes.
- So forged beacons are possible: anyone can invent playback for any ``userId`` or
  ``anonymousId``, or inject into a session whose ``session_id`` they know (use random UUIDs: they
  are not guessable). Treat video events as client-reported analytics, like any browser analytics
  SDK's; never grant anything on them. What bounds the damage: body size (``VIDEO_MAX_BODY_BYTES``,
  64 KiB, the sendBeacon/keepalive quota), events per beacon (``VIDEO_MAX_EVENTS_PER_BEACON``,
  500), the session store's caps, and rate limits in front (Function URL concurrency, a WAF if you
  put CloudFront before it).
- Malformed beacons get a 400 with field names (never values) from ``reply_after_accept``, not the
  DLQ: the DLQ keeps authentic provider requests a mapping fix can heal, and a public key means
  anyone could fill it with junk; a 400 tells the tracker's developer at once. A well-formed beacon
  that still cannot be translated (a mapping bug, the session store down) goes to the DLQ as usual.

Settings (``CIOHOOKS_`` prefix; defaults in brackets):

    VIDEO_WRITE_KEYS (secret)      the sites' public write keys, comma-separated [none: 503]
    VIDEO_ALLOWED_ORIGINS          Origins accepted, comma-separated; * for any [any]
    VIDEO_SESSIONS_TABLE           DynamoDB table of session state [in-process store]
    VIDEO_SESSION_TTL_SECONDS      a session's life after its last beacon [86400]
    VIDEO_MAX_BODY_BYTES           413 above [65536]
    VIDEO_MAX_EVENTS_PER_BEACON    413 above [500]
    VIDEO_MAX_BUFFERED_BEACONS     early beacons waiting for a missing one [16]
    VIDEO_GAP_TIMEOUT_SECONDS      how long they wait [30]
    VIDEO_REPLAY_RESULTS           recent beacons whose events answer their retries [8]
    VIDEO_HEARTBEAT_SECONDS        played seconds between Content Playing events [10]
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any, ClassVar, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ... import ids, video_sessions
from ...config import Settings
from ...request import WebhookRequest
from ...semantic.video import (
    VIDEO_EVENTS,
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
from .. import _credentials as credentials
from ..base import InvalidPayload, Reply, Source, Translation, Unauthorized

WRITE_KEY_SETTING = "VIDEO_WRITE_KEYS"
WRITE_KEY_HEADER = "x-cio-write-key"
WRITE_KEY_FIELD = "write_key"  # body field and query parameter

DEFAULT_MAX_BODY_BYTES = 65_536
DEFAULT_MAX_EVENTS = 500
DEFAULT_MAX_BUFFERED = 16
DEFAULT_GAP_TIMEOUT_SECONDS = 30
DEFAULT_REPLAY_RESULTS = 8
DEFAULT_HEARTBEAT_SECONDS = 10

END_TOLERANCE_SECONDS = 0.5  # a pause this close to the end is the end-of-media pause
EVENT_BY_NAME: dict[str, type[VideoEvent]] = {cls.name: cls for cls in VIDEO_EVENTS}


# ---- the beacon ----------------------------------------------------------------------------------


class MalformedBeacon(InvalidPayload):
    """The body is not a beacon. ``problems`` name fields and error kinds, never values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("malformed beacon: " + "; ".join(problems))
        self.problems = problems


ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"  # printable: ids end up in logs' neighbours and in Customer.io


class NativeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    t: float = Field(ge=0, le=10_000_000_000, allow_inf_nan=False)  # ms since the session started
    type: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
    data: Any = None
    player: dict[str, Any] | None = None


class VideoMetadata(BaseModel):
    """The content metadata the site sends: only these keys, with the spec's types."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    asset_id: str | None = Field(default=None, max_length=256)
    pod_id: str | None = Field(default=None, max_length=256)
    program: str | None = Field(default=None, max_length=512)
    title: str | None = Field(default=None, max_length=512)
    description: str | None = Field(default=None, max_length=4096)
    season: str | None = Field(default=None, max_length=64)
    episode: str | None = Field(default=None, max_length=64)
    genre: str | None = Field(default=None, max_length=256)
    publisher: str | None = Field(default=None, max_length=256)
    channel: str | None = Field(default=None, max_length=256)
    full_episode: bool | None = None
    livestream: bool | None = None
    airdate: datetime | None = None
    keywords: list[str] | None = Field(default=None, max_length=64)

    @field_validator("airdate")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("airdate needs a time zone")
        return value


class Beacon(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    session_id: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    userId: str | None = Field(default=None, min_length=1, max_length=256, pattern=ID_PATTERN)
    anonymousId: str | None = Field(default=None, min_length=1, max_length=256, pattern=ID_PATTERN)
    seq: int = Field(ge=0, le=1_000_000)
    sent_t: float | None = Field(default=None, ge=0, le=10_000_000_000, allow_inf_nan=False)
    final: bool = False
    write_key: str | None = Field(default=None, max_length=256)
    video: VideoMetadata | None = None
    events: list[NativeEvent] = Field(default_factory=list)

    def identity(self) -> dict[str, str]:
        return {"userId": self.userId} if self.userId else {"anonymousId": self.anonymousId or ""}


def _field_problems(error: ValidationError) -> list[str]:
    return list(dict.fromkeys(f"{'.'.join(str(p) for p in e['loc']) or 'body'} ({e['type']})" for e in error.errors()))[:10]


def parse_beacon(body: bytes, max_events: int | None = None) -> Beacon:
    """The body as a ``Beacon``, or ``MalformedBeacon`` saying which fields are wrong.

    A well-formed beacon is parsed and validated in one pass (pydantic's JSON parser, about twice
    as fast as ``json.loads`` then ``model_validate``). Anything that pass refuses takes the path
    below, which says exactly what is wrong, and accepts what only ``json.loads`` reads (a BOM,
    lone surrogates): the result is the same either way.
    """
    try:
        beacon = Beacon.model_validate_json(body)
    except ValidationError:
        return _parse_beacon_exactly(body, max_events)
    if max_events is not None and len(beacon.events) > max_events:
        raise MalformedBeacon([f"events: more than {max_events} in one beacon"])
    if not (beacon.userId or beacon.anonymousId):
        raise MalformedBeacon(["userId or anonymousId is required"])
    return beacon


def _parse_beacon_exactly(body: bytes, max_events: int | None) -> Beacon:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedBeacon([f"body is not JSON ({error.__class__.__name__})"]) from None
    if not isinstance(raw, dict):
        raise MalformedBeacon([f"body is a JSON {type(raw).__name__}, not an object"])
    if max_events is not None and isinstance(raw.get("events"), list) and len(raw["events"]) > max_events:
        raise MalformedBeacon([f"events: more than {max_events} in one beacon"])
    try:
        beacon = Beacon.model_validate(raw)
    except ValidationError as error:
        raise MalformedBeacon(_field_problems(error)) from None
    if not (beacon.userId or beacon.anonymousId):
        raise MalformedBeacon(["userId or anonymousId is required"])
    return beacon


# ---- signals: what a native event means ----------------------------------------------------------


@dataclasses.dataclass
class Signal:
    """One step of playback, in the vocabulary every player module maps onto."""

    kind: str
    position: float | None = None  # content playhead (s) when the native data says it
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)


PLAY = "play"  # playback requested (HTML5 play)
PLAYING = "playing"  # content frames are moving (HTML5 playing, JW play, YouTube 1)
PAUSE = "pause"
SEEK_START = "seek_start"  # fields: to (s)
SEEK_END = "seek_end"
BUFFER_START = "buffer_start"
BUFFER_END = "buffer_end"
ENDED = "ended"
TIME = "time"
QUALITY = "quality"  # fields: bitrate (bits/s), quality, framerate, height
AD_BREAK_START = "ad_break_start"  # fields: type (pre-roll|mid-roll|post-roll), pod_id
AD_START = "ad_start"  # fields: asset_id, title, pod_position, pod_length, total_length, publisher, type
AD_PROGRESS = "ad_progress"  # fields: position, total_length, pod_position, pod_length
AD_QUARTILE = "ad_quartile"  # fields: quartile (1..3)
AD_COMPLETE = "ad_complete"
AD_SKIP = "ad_skip"
AD_PAUSE = "ad_pause"
AD_PLAY = "ad_play"
AD_BREAK_END = "ad_break_end"
ERROR = "error"  # fields: fatal (bool)
SNAPSHOT = "snapshot"  # only updates what is known of the player (volume, fullscreen...)

# Signals that say nothing about a held pause (it stays held through them).
QUIET = frozenset({TIME, SNAPSHOT})
AD_SIGNALS = frozenset({AD_BREAK_START, AD_START, AD_PROGRESS, AD_QUARTILE, AD_COMPLETE, AD_SKIP, AD_PAUSE, AD_PLAY, AD_BREAK_END})


def number(value: Any) -> float | None:
    """A finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def text(value: Any, limit: int = 256) -> str | None:
    if isinstance(value, str) and value.strip():
        return value[:limit]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def whole(value: float | None) -> int | None:
    """Seconds (or kbps, fps) as the spec's integer: rounded half up, never negative."""
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return int(math.floor(value + 0.5))


def ad_type(value: Any) -> str | None:
    """pre-roll / mid-roll / post-roll from the spellings players use (pre, preroll, pre-roll...)."""
    if not isinstance(value, str):
        return None
    key = value.lower().replace("-", "").replace("_", "").replace(" ", "")
    return {"pre": "pre-roll", "preroll": "pre-roll", "mid": "mid-roll", "midroll": "mid-roll", "post": "post-roll", "postroll": "post-roll"}.get(key)


# ---- the state machine ---------------------------------------------------------------------------


@dataclasses.dataclass
class Context:
    """Where a native event sits: its time, its index in the session, and its beacon's facts."""

    t: float
    index: int | str
    who: dict[str, str]
    video: dict[str, Any]
    session_id: str


class Machine:
    """One session's playback state (a JSON-safe dict, stored between beacons) and its rules."""

    def __init__(self, player: VideoSource, state: dict[str, Any]) -> None:
        self.player = player
        self.m = state
        for key, default in (
            ("started", False), ("content_started", False), ("content_completed", False), ("closed", False),
            ("state", "idle"), ("before_seek", None), ("seek_to", None), ("pending_pause", None),
            ("pending_complete", None), ("snap", {}), ("last_pos", None), ("last_t", None), ("played", 0.0),
            ("ad", {"in_break": False, "type": None, "pod_id": None, "active": False}), ("quality", None), ("memo", {}),
        ):
            self.m.setdefault(key, default)
        self.out: list[dict[str, Any]] = []
        self._ordinal = 0
        self._context: Context | None = None
        self._before: dict[str, Any] = {}  # what was known of the player before the current event
        self.heartbeat = player.heartbeat_seconds

    # -- feeding ---------------------------------------------------------------------------------

    def feed(self, event: NativeEvent, context: Context) -> int:
        """Run one native event; returns how many signals it meant (0: not translated)."""
        self._context, self._ordinal = context, 0
        snap = self.m["snap"]
        before = self._before = dict(snap)
        snap.update(self.player.snapshot(event.player or {}))
        signals = self.player.signals(event, self.m["memo"], before, snap)
        for signal in signals:
            if signal.position is not None:
                snap["position"] = signal.position
            if (duration := number(signal.fields.get("duration"))) is not None:
                snap["duration"] = duration
            snap.update(signal.fields.get("snap") or {})  # what the event's data says of the player
            self._handle(signal)
        return sum(1 for s in signals if s.kind != SNAPSHOT)

    def finish(self, context: Context) -> None:
        """The final beacon: the session ends here."""
        self._context, self._ordinal = context, 0
        if self.m["closed"]:
            return
        self._resolve_pending_pause(None)
        if self.m["pending_complete"] is not None:
            self._resolve_pending_complete()
        elif self.m["started"]:
            self._emit(VideoPlaybackExited, self._playback_props())
        self.m["closed"] = True

    # -- rules -----------------------------------------------------------------------------------

    def _handle(self, signal: Signal) -> None:
        m, kind = self.m, signal.kind
        if m["closed"]:
            return
        if kind not in QUIET:
            self._resolve_pending_pause(signal)
            if m["pending_complete"] is not None and kind not in AD_SIGNALS:
                self._resolve_pending_complete()
                return
        if kind in AD_SIGNALS:
            self._ad(signal)
            return
        if m["ad"]["in_break"] and kind in (PLAY, PLAYING, PAUSE, SEEK_START, SEEK_END, BUFFER_START, BUFFER_END, TIME):
            return  # content signals during an ad break (players keep the content element around)
        getattr(self, f"_on_{kind}")(signal)

    def _on_play(self, signal: Signal) -> None:
        m = self.m
        if not m["started"]:
            self._start_playback()
            m["state"] = "starting"
        elif m["state"] in ("paused", "interrupted"):
            self._emit(VideoPlaybackResumed, self._playback_props())
            m["state"] = "playing"
            self._rebase()

    def _on_playing(self, signal: Signal) -> None:
        m = self.m
        if not m["started"]:
            self._start_playback()
        if not m["content_started"]:
            m["content_started"] = True
            self._emit(VideoContentStarted, self._content_props())
            m["state"] = "playing"
            self._rebase()
            return
        state = m["state"]
        if state in ("paused", "interrupted"):
            self._emit(VideoPlaybackResumed, self._playback_props())
        elif state == "buffering":
            self._emit(VideoPlaybackBufferCompleted, self._playback_props())
        elif state == "seeking":
            return  # the seek's own resumption: Seek Completed says it
        m["state"] = "playing"
        self._rebase()

    def _on_pause(self, signal: Signal) -> None:
        m = self.m
        if not m["started"] or m["state"] in ("paused", "idle", "ended") or (m["state"] == "seeking" and m["before_seek"] == "paused"):
            return
        if self._at_end():
            return  # HTML5 "reaches the end" steps: pause, then ended. Not the viewer's pause.
        props = self._playback_props()
        if self.player.pause_held:
            m["pending_pause"] = {"props": props, "t": self._context.t, "id": self._reserve(), "who": self._context.who, "was": m["state"]}
        else:
            self._emit(VideoPlaybackPaused, props)
        if m["state"] == "seeking":
            m["before_seek"] = "paused"  # the seek still completes; then the player stays paused
        else:
            m["state"] = "paused"

    def _on_seek_start(self, signal: Signal) -> None:
        m = self.m
        if not m["started"]:
            return
        to = number(signal.fields.get("to"))
        if m["state"] == "seeking":
            m["seek_to"] = to if to is not None else m["seek_to"]  # one seek, dragged further
            return
        start = signal.fields.get("from")
        props = self._playback_props(position=number(start) if start is not None else None)
        if whole(to) is not None:
            props["seek_position"] = whole(to)
        self._emit(VideoPlaybackSeekStarted, props)
        m["before_seek"] = "paused" if m["state"] in ("paused", "interrupted") else ("idle" if m["state"] == "idle" else "playing")
        m["state"], m["seek_to"] = "seeking", to

    def _on_seek_end(self, signal: Signal) -> None:
        m = self.m
        if m["state"] != "seeking":
            return
        self._emit(VideoPlaybackSeekCompleted, self._playback_props())
        m["state"], m["seek_to"] = m["before_seek"] or "playing", None
        self._rebase()

    def _on_buffer_start(self, signal: Signal) -> None:
        m = self.m
        if m["content_started"] and m["state"] == "playing":
            self._emit(VideoPlaybackBufferStarted, self._playback_props())
            m["state"] = "buffering"

    def _on_buffer_end(self, signal: Signal) -> None:
        m = self.m
        if m["state"] == "buffering":
            self._emit(VideoPlaybackBufferCompleted, self._playback_props())
            m["state"] = "playing"
            self._rebase()

    def _on_time(self, signal: Signal) -> None:
        m, snap = self.m, self.m["snap"]
        position, now = number(snap.get("position")), self._context.t
        if position is None:
            return
        last, last_t = m["last_pos"], m["last_t"]
        m["last_pos"], m["last_t"] = position, now
        if m["state"] != "playing" or not m["content_started"] or last is None or last_t is None:
            return
        elapsed = max(0.0, (now - last_t) / 1000.0) * max(1.0, number(snap.get("rate")) or 1.0)
        delta = position - last
        if not 0 < delta <= elapsed + 2.0:
            return  # backwards, or a jump the clock cannot explain: not played time
        m["played"] += delta
        if m["played"] >= self.heartbeat:
            m["played"] %= self.heartbeat
            self._emit(VideoContentPlaying, self._content_props())

    def _on_ended(self, signal: Signal) -> None:
        m = self.m
        if not m["started"]:
            return
        duration = number(m["snap"].get("duration"))
        if duration is not None:
            m["snap"]["position"] = duration
        if m["content_started"] and not m["content_completed"]:
            m["content_completed"] = True
            self._emit(VideoContentCompleted, self._content_props())
        m["state"] = "ended"
        if self.player.postroll_after_end:
            m["pending_complete"] = {"props": self._playback_props(), "t": self._context.t, "id": self._reserve(), "who": self._context.who}
        else:
            self._emit(VideoPlaybackCompleted, self._playback_props())
            m["closed"] = True

    def _on_quality(self, signal: Signal) -> None:
        m, snap, f = self.m, self.m["snap"], signal.fields
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
        known = m["quality"] if m["quality"] is not None else _quality_key(self._before)
        m["quality"] = key
        if key == known or key == [None, None, None]:
            return
        if m["started"] and known != [None, None, None]:  # the first rendition known is not an update
            props = {"session_id": self._context.session_id, "bitrate": key[0], "quality": key[1], "framerate": key[2]}
            self._emit(VideoQualityUpdated, props)

    def _on_error(self, signal: Signal) -> None:
        m = self.m
        if not signal.fields.get("fatal") or not m["started"] or m["state"] == "interrupted":
            return
        self._emit(VideoPlaybackInterrupted, {**self._playback_props(), "method": "player error"})
        m["state"] = "interrupted"

    def _on_snapshot(self, signal: Signal) -> None:
        return

    # -- ads -------------------------------------------------------------------------------------

    def _ad(self, signal: Signal) -> None:
        m, ad, kind, f = self.m, self.m["ad"], signal.kind, signal.fields
        if kind == AD_BREAK_START or (kind == AD_START and not ad["in_break"]):
            if not m["started"]:
                self._start_playback()
            ad.update(in_break=True, active=False, type=ad_type(f.get("type")) or self._inferred_ad_type(), pod_id=text(f.get("pod_id")))
            if kind == AD_BREAK_START:
                return
        if kind == AD_START:
            info = {k: v for k, v in f.items() if v is not None and k in ("asset_id", "title", "publisher", "pod_position", "pod_length", "total_length", "position")}
            if t := ad_type(f.get("type")):
                ad["type"] = t
            ad.update(active=True, info=info, quartile=0, paused=False)
            self._emit(VideoAdStarted, self._ad_props(position=0))
        elif not ad["active"]:
            if kind == AD_BREAK_END:
                self._end_break()
            return  # progress/complete/skip for an ad we never saw start
        elif kind == AD_PROGRESS:
            info = ad["info"]
            for key in ("position", "total_length", "pod_position", "pod_length"):
                if (value := number(f.get(key))) is not None:
                    info[key] = value
            position, length = number(info.get("position")), number(info.get("total_length"))
            if position is not None and length:
                self._ad_quartile(min(3, int(4 * position / length)))
        elif kind == AD_QUARTILE:
            self._ad_quartile(int(f.get("quartile") or 0))
        elif kind == AD_COMPLETE:
            length = number(ad["info"].get("total_length"))
            self._emit(VideoAdCompleted, self._ad_props(position=length))
            ad["active"] = False
        elif kind == AD_SKIP:
            ad["active"] = False  # skipped: deliberately not Ad Completed
        elif kind == AD_PAUSE and not ad.get("paused"):
            ad["paused"] = True
            self._emit(VideoPlaybackPaused, self._playback_props())
        elif kind == AD_PLAY and ad.get("paused"):
            ad["paused"] = False
            self._emit(VideoPlaybackResumed, self._playback_props())
        elif kind == AD_BREAK_END:
            self._end_break()

    def _end_break(self) -> None:
        self.m["ad"] = {"in_break": False, "type": None, "pod_id": None, "active": False}
        if self.m["pending_complete"] is not None:
            self._resolve_pending_complete(at_end_of_break=True)

    def _ad_quartile(self, quartile: int) -> None:
        ad = self.m["ad"]
        if 1 <= quartile <= 3 and quartile > ad.get("quartile", 0):
            ad["quartile"] = quartile
            self._emit(VideoAdPlaying, {**self._ad_props(), "quartile": quartile})

    def _inferred_ad_type(self) -> str:
        if not self.m["content_started"]:
            return "pre-roll"
        return "post-roll" if self.m["content_completed"] else "mid-roll"

    # -- held signals ----------------------------------------------------------------------------

    def _resolve_pending_pause(self, signal: Signal | None) -> None:
        pending = self.m["pending_pause"]
        if pending is None:
            return
        self.m["pending_pause"] = None
        if signal is not None:
            window = self.player.scrub_window_ms
            scrub = signal.kind == SEEK_START and window is not None and self._context.t - pending["t"] <= window
            if signal.kind in self.player.pause_cancelled_by or scrub:
                # The player paused itself (for the end, an ad break, a scrub): not the viewer.
                if pending["was"] == "seeking":
                    self.m["before_seek"] = "playing"
                else:
                    self.m["state"] = pending["was"]
                return
        self._emit(VideoPlaybackPaused, pending["props"], at=pending["t"], as_id=pending["id"], who=pending["who"])

    def _resolve_pending_complete(self, at_end_of_break: bool = False) -> None:
        """Playback Completed, held at ``ended`` for a post-roll: it completes when the post-roll
        break ends; otherwise it completed when the content ended."""
        pending, self.m["pending_complete"] = self.m["pending_complete"], None
        at = self._context.t if at_end_of_break else pending["t"]
        self._emit(VideoPlaybackCompleted, pending["props"], at=at, as_id=pending["id"], who=pending["who"])
        self.m["closed"] = True

    # -- helpers ---------------------------------------------------------------------------------

    def _start_playback(self) -> None:
        self.m["started"] = True
        props = self._playback_props()
        video = self._context.video
        if video.get("asset_id"):
            props["content_asset_ids"] = [video["asset_id"]]
        if video.get("pod_id"):
            props["content_pod_ids"] = [video["pod_id"]]
        self._emit(VideoPlaybackStarted, props)

    def _rebase(self) -> None:
        """Played time is counted from here (after a start, resume, seek or rebuffer)."""
        self.m["last_pos"], self.m["last_t"] = number(self.m["snap"].get("position")), self._context.t

    def _at_end(self) -> bool:
        snap = self.m["snap"]
        if snap.get("ended") is True:
            return True
        position, duration = number(snap.get("position")), number(snap.get("duration"))
        return position is not None and bool(duration) and not snap.get("live") and position >= duration - END_TOLERANCE_SECONDS

    def _reserve(self) -> list[Any]:
        ordinal, self._ordinal = self._ordinal, self._ordinal + 1
        return [self._context.index, ordinal]

    def _emit(self, cls: type[VideoEvent], props: dict[str, Any], at: float | None = None, as_id: list[Any] | None = None, who: dict[str, str] | None = None) -> None:
        index, ordinal = as_id if as_id is not None else self._reserve()
        self.out.append({
            "event": cls.name,
            "props": {k: v for k, v in props.items() if v is not None},
            "t": self._context.t if at is None else at,
            "id": [index, ordinal],
            "who": who or self._context.who,
        })

    def _livestream(self) -> bool | None:
        video_live = self._context.video.get("livestream")
        return video_live if isinstance(video_live, bool) else (self.m["snap"].get("live") if isinstance(self.m["snap"].get("live"), bool) else None)

    def _length(self) -> int | None:
        return None if self._livestream() else whole(number(self.m["snap"].get("duration")))

    def _playback_props(self, position: float | None = None) -> dict[str, Any]:
        snap, ad = self.m["snap"], self.m["ad"]
        props: dict[str, Any] = {
            "session_id": self._context.session_id,
            "position": whole(position if position is not None else number(snap.get("position"))),
            "total_length": self._length(),
            "bitrate": whole(_kbps(snap.get("bitrate"))),
            "framerate": whole(number(snap.get("framerate"))),
            "video_player": self.player.video_player,
            "sound": self._sound(),
            "full_screen": snap.get("fullscreen") if isinstance(snap.get("fullscreen"), bool) else None,
            "quality": text(snap.get("quality"), 64),
            "livestream": self._livestream(),
        }
        if ad["in_break"]:
            props["ad_type"] = ad.get("type")
            props["ad_pod_id"] = ad.get("pod_id")
            if ad["active"]:
                props["ad_asset_id"] = text(ad.get("info", {}).get("asset_id"))
        return props

    def _content_props(self) -> dict[str, Any]:
        snap, video = self.m["snap"], self._context.video
        props = {k: v for k, v in video.items() if k != "livestream"}
        props.update(
            session_id=self._context.session_id,
            position=whole(number(snap.get("position"))),
            total_length=self._length(),
            bitrate=whole(_kbps(snap.get("bitrate"))),
            framerate=whole(number(snap.get("framerate"))),
            livestream=self._livestream(),
        )
        return props

    def _ad_props(self, position: float | None = None) -> dict[str, Any]:
        ad = self.m["ad"]
        info = ad.get("info", {})
        return {
            "session_id": self._context.session_id,
            "asset_id": text(info.get("asset_id")),
            "pod_id": ad.get("pod_id"),
            "pod_position": whole(number(info.get("pod_position"))),
            "pod_length": whole(number(info.get("pod_length"))),
            "type": ad.get("type"),
            "title": text(info.get("title"), 512),
            "publisher": text(info.get("publisher")),
            "position": whole(position if position is not None else number(info.get("position"))),
            "total_length": whole(number(info.get("total_length"))),
        }

    def _sound(self) -> int | None:
        snap = self.m["snap"]
        if snap.get("muted") is True:
            return 0
        volume = number(snap.get("volume"))
        return None if volume is None else max(0, min(100, whole(volume * 100) or 0))


def _quality_key(snap: Mapping[str, Any]) -> list[Any]:
    return [whole(_kbps(snap.get("bitrate"))), text(snap.get("quality"), 64), whole(number(snap.get("framerate")))]


def _kbps(bits_per_second: Any) -> float | None:
    value = number(bits_per_second)
    return None if value is None else value / 1000.0


# ---- sessions: beacons in seq order --------------------------------------------------------------


@dataclasses.dataclass
class Limits:
    max_buffered: int = DEFAULT_MAX_BUFFERED
    gap_timeout_ms: int = DEFAULT_GAP_TIMEOUT_SECONDS * 1000
    replay_results: int = DEFAULT_REPLAY_RESULTS


def process_beacon(player: VideoSource, record: video_sessions.SessionRecord, beacon: Beacon, received_ms: int, limits: Limits) -> tuple[video_sessions.SessionRecord | None, list[dict[str, Any]], Counter[str]]:
    """The session after ``beacon`` (None: unchanged), the events it releases (as emitted), and
    what it deliberately did not translate."""
    ignored: Counter[str] = Counter()
    seq = str(beacon.seq)
    if seq in record.results:
        ignored["beacon:duplicate"] += 1
        return None, record.results[seq], ignored
    if seq in record.buffered:
        ignored["beacon:duplicate"] += 1
        return None, [], ignored
    if beacon.seq < record.next_seq or record.closed:
        ignored["beacon:late" if not record.closed else "beacon:after_final"] += 1
        return None, [], ignored

    if record.anchor_ms is None:
        sent = beacon.sent_t if beacon.sent_t is not None else max((e.t for e in beacon.events), default=0.0)
        record.anchor_ms = int(received_ms - sent)
    record.buffered[seq] = {
        **beacon.model_dump(mode="json", include={"seq", "final", "events", "session_id", "sent_t"}),
        "who": beacon.identity(),
        "video": _video(beacon),
        "arrived_ms": received_ms,
    }

    machine = Machine(player, record.machine)
    released: list[dict[str, Any]] = []

    def run(item: dict[str, Any]) -> None:
        for raw in item["events"]:
            event = NativeEvent.model_validate(raw)
            context = Context(event.t, record.native_index, item["who"], item["video"], item["session_id"])
            record.native_index += 1
            if machine.feed(event, context) == 0:
                ignored[event.type] += 1
        if item["final"]:
            last_t = max((e["t"] for e in item["events"]), default=0.0)
            end_t = max(last_t, item.get("sent_t") or 0.0)
            machine.finish(Context(end_t, "final", item["who"], item["video"], item["session_id"]))
            record.closed = True
        released.extend(machine.out)
        machine.out.clear()

    def drain() -> None:
        while not record.closed and str(record.next_seq) in record.buffered:
            run(record.buffered.pop(str(record.next_seq)))
            record.next_seq += 1

    drain()
    if record.buffered and not record.closed:
        oldest = min(item["arrived_ms"] for item in record.buffered.values())
        if any(item["final"] for item in record.buffered.values()) or len(record.buffered) > limits.max_buffered or received_ms - oldest >= limits.gap_timeout_ms:
            for key in sorted(record.buffered, key=int):
                if record.closed:
                    break
                if int(key) > record.next_seq:
                    ignored["beacon:lost"] += int(key) - record.next_seq
                run(record.buffered.pop(key))
                record.next_seq = int(key) + 1
    if record.closed and record.buffered:
        ignored["beacon:after_final"] += len(record.buffered)
        record.buffered.clear()
    if seq in record.buffered:
        ignored["beacon:buffered"] += 1  # it waits for the beacons before it
    record.waiting_since_ms = min((item["arrived_ms"] for item in record.buffered.values()), default=None)
    record.machine = machine.m
    record.results[seq] = released
    for old in sorted(record.results, key=int)[: max(0, len(record.results) - limits.replay_results)]:
        del record.results[old]
    return record, released, ignored


def _video(beacon: Beacon) -> dict[str, Any]:
    if beacon.video is None:
        return {}
    return beacon.video.model_dump(mode="json", exclude_none=True)


# ---- the source ----------------------------------------------------------------------------------


class VideoSource(Source):
    """A video player's beacons. Subclasses name the player and map its native events."""

    family: ClassVar[str] = "video"
    secret_name: ClassVar[str | None] = WRITE_KEY_SETTING
    ignored_types: ClassVar[Mapping[str, str]] = {
        "beacon:duplicate": "a beacon received again: its events were queued the first time (same messageIds)",
        "beacon:buffered": "an early beacon: it waits for the ones before it (released then, or at the gap timeout)",
        "beacon:late": "a straggler after its gap was given up as lost",
        "beacon:after_final": "a beacon after the session's final one",
        "beacon:lost": "beacons that never arrived before the gap timeout (nothing to keep)",
    }
    secret_headers: ClassVar[frozenset[str]] = frozenset({WRITE_KEY_HEADER})
    secret_query_keys: ClassVar[frozenset[str]] = frozenset({WRITE_KEY_FIELD})
    ack_status: ClassVar[int] = 202

    video_player: ClassVar[str]  # the ``video_player`` property
    volume_scale: ClassVar[float] = 1.0  # the player's volume for "full" (HTML5: 1; YouTube, JW: 100)
    # Signals that show a preceding pause was the player's own (held until the next signal).
    pause_held: ClassVar[bool] = False
    pause_cancelled_by: ClassVar[frozenset[str]] = frozenset({ENDED})
    scrub_window_ms: ClassVar[float | None] = None  # a pause this soon before a seek is part of it
    postroll_after_end: ClassVar[bool] = False  # Playback Completed waits for a post-roll break

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        # The embedded store lives with this object (serve and Lambda keep it; translate makes
        # one per run). In AWS the table holds the state and this is only a client.
        self.sessions = video_sessions.store_from_settings(self.settings)
        self.heartbeat_seconds = self.settings.get_int("VIDEO_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS)
        self.limits = Limits(
            max_buffered=self.settings.get_int("VIDEO_MAX_BUFFERED_BEACONS", DEFAULT_MAX_BUFFERED),
            gap_timeout_ms=1000 * self.settings.get_int("VIDEO_GAP_TIMEOUT_SECONDS", DEFAULT_GAP_TIMEOUT_SECONDS),
            replay_results=self.settings.get_int("VIDEO_REPLAY_RESULTS", DEFAULT_REPLAY_RESULTS),
        )
        self.max_body_bytes = self.settings.get_int("VIDEO_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
        self.max_events = self.settings.get_int("VIDEO_MAX_EVENTS_PER_BEACON", DEFAULT_MAX_EVENTS)

    # -- what each player module provides ---------------------------------------------------------

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        """What ``event`` means. ``before``/``snap``: what was known of the player before it and now."""
        raise NotImplementedError

    def snapshot(self, player: Mapping[str, Any]) -> dict[str, Any]:
        """The tracker's ``player`` snapshot in the machine's terms (volume as 0..1)."""
        out: dict[str, Any] = {}
        for source_key, key in (("currentTime", "position"), ("duration", "duration"), ("bitrate", "bitrate"), ("framerate", "framerate"), ("playbackRate", "rate"), ("height", "height")):
            if (value := number(player.get(source_key))) is not None and value >= 0:
                out[key] = value
        if (volume := number(player.get("volume"))) is not None:
            out["volume"] = max(0.0, min(1.0, volume / self.volume_scale))
        for key in ("muted", "fullscreen", "live", "ended", "paused"):
            if isinstance(player.get(key), bool):
                out[key] = player[key]
        if (quality := text(player.get("quality"), 64)) is not None:
            out["quality"] = quality
        return out

    # -- the endpoint ----------------------------------------------------------------------------

    def reply_before_auth(self, request: WebhookRequest) -> Reply | None:
        if request.method == "POST" and len(request.body) > self.max_body_bytes:
            return Reply(413, json.dumps({"error": f"beacon larger than {self.max_body_bytes} bytes"}), "application/json")
        return None

    def authenticate(self, request: WebhookRequest) -> None:
        allowed = self.settings.get_list("VIDEO_ALLOWED_ORIGINS")
        if allowed is not None and "*" not in allowed:
            origin = (request.header("origin") or "").rstrip("/").lower()
            if not origin:
                raise Unauthorized("no Origin header, and VIDEO_ALLOWED_ORIGINS is set")
            if origin not in {o.rstrip("/").lower() for o in allowed}:
                raise Unauthorized("Origin is not in VIDEO_ALLOWED_ORIGINS")
        if (configured := self.secret_or_open(WRITE_KEY_SETTING)) is None:
            return
        presented = request.header(WRITE_KEY_HEADER) or request.query.get(WRITE_KEY_FIELD) or _body_write_key(request.body)
        keys = credentials.several(WRITE_KEY_SETTING, configured)
        # Every key is compared, so timing does not tell which (or how many) keys exist.
        credentials.require(presented, keys, "write key (header X-CIO-Write-Key, query write_key or body write_key)")

    def reply_after_accept(self, request: WebhookRequest) -> Reply | None:
        try:
            parse_beacon(request.body, self.max_events)
        except MalformedBeacon as error:
            status = 413 if any(p.startswith("events: more than") for p in error.problems) else 400
            return Reply(status, json.dumps({"error": "malformed beacon", "problems": error.problems}), "application/json")
        return None

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """Add the site's write key (the first of a comma-separated list) as the tracker would."""
        first = next((k.strip() for k in key.split(",") if k.strip()), "")
        return credentials.with_header(request, WRITE_KEY_HEADER, first)

    # -- translation -----------------------------------------------------------------------------

    def translate(self, request: WebhookRequest) -> Translation:
        beacon = parse_beacon(request.body, self.max_events)
        received_ms = int(request.received_at.timestamp() * 1000)
        key = f"{self.full_name()}#{beacon.session_id}"

        def work(record: video_sessions.SessionRecord):
            updated, released, ignored = process_beacon(self, record, beacon, received_ms, self.limits)
            return updated, (released, ignored, updated.anchor_ms if updated else record.anchor_ms)

        released, ignored, anchor_ms = video_sessions.update(self.sessions, key, work)
        translation = Translation(ignored=ignored)
        translation.events = [self._semantic(item, beacon.session_id, anchor_ms) for item in released]
        return translation

    def _semantic(self, item: dict[str, Any], session_id: str, anchor_ms: int | None) -> VideoEvent:
        cls = EVENT_BY_NAME[item["event"]]
        index, ordinal = item["id"]
        try:
            return cls.model_validate({
                **item["who"],
                "messageId": ids.message_id(self.full_name(), session_id, str(index), str(ordinal)),
                "timestamp": datetime.fromtimestamp(((anchor_ms or 0) + item["t"]) / 1000.0, UTC),
                "properties": item["props"],
            })
        except (ValidationError, OverflowError, OSError, ValueError) as error:
            detail = ", ".join(_field_problems(error)) if isinstance(error, ValidationError) else "timestamp out of range"
            raise InvalidPayload(f"{item['event']}: {detail}") from None


def _body_write_key(body: bytes) -> str | None:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    value = raw.get(WRITE_KEY_FIELD) if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value else None
