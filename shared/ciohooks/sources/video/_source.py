"""What every video player source shares: the public endpoint, its settings, and translation.

Video players send no server webhooks. A small tracker in the page (``web/``) listens to the
player's own events and posts them, in order, as *beacons* to ``POST /<player>`` on the video
Function URL. Each player module (``html5.py``, ``jwplayer.py``, ``vimeo.py``, ``youtube.py``,
``mux.py``, ``videojs.py``) only says how its native events read as *signals* and which types it
deliberately ignores; the rest is shared, one story per module:

    _beacon.py       the beacon's format, parsed and validated in one pass
    _identity.py     userId only with the site backend's HMAC, else anonymousId
    _signals.py      the vocabulary players map onto
    _state.py        the state machine's memory (PlaybackState), stored between beacons
    _machine.py      the rules: signals -> the 17 video semantic events
    _sequencing.py   beacons in seq order, gaps closed by time, stragglers still translated
    _sweep.py        the scheduled sweep that closes gaps when no beacon comes to do it
    _source.py       this module: the endpoint, settings, translation, messageIds

The full reference, with examples, is docs/sources/video.md.

Endpoint hygiene, and its honest limits (threat model):

- The write key (``VIDEO_WRITE_KEYS``: comma-separated, one per site; header ``X-CIO-Write-Key``,
  query ``write_key`` or body field ``write_key``) is **public**: it ships in the page's JavaScript,
  so anyone can read it and post beacons with it. It tells sites apart, lets a leaked key be
  rotated, and stops casual scripts and crawlers; it does not authenticate anyone. Without any key
  configured the endpoint fails closed (503) unless ``ALLOW_UNSIGNED`` is on.
- ``userId`` is taken only with a valid ``user_hash`` (``_identity.py``); anyone can still invent
  anonymous playback, but not write into a known person's history.
- The ``Origin`` allow-list (``VIDEO_ALLOWED_ORIGINS``, comma-separated, ``*`` or unset: any) only
  binds browsers, which cannot lie about Origin. curl can send any Origin it likes. The Function
  URL's CORS answers (``CORS_ALLOW_METHODS``/``CORS_ALLOW_HEADERS`` below, the template's Cors
  block, and ``ciohooks serve``) are one definition, held equal by a test.
- What bounds the damage: body size (``VIDEO_MAX_BODY_BYTES``, 64 KiB, the sendBeacon/keepalive
  quota), events per beacon (``VIDEO_MAX_EVENTS_PER_BEACON``, 500), the session store's caps, and
  rate limits in front (the function's reserved concurrency, a WAF if you put CloudFront before it).
- Malformed beacons get a 400 with field names (never values) from ``reply_after_accept``, not the
  DLQ: the DLQ keeps authentic provider requests a mapping fix can heal, and a public key means
  anyone could fill it with junk; a 400 tells the tracker's developer at once. A well-formed beacon
  that still cannot be translated (a mapping bug, the session store down) goes to the DLQ as usual.

``messageId`` = UUIDv5(player source, session_id, beacon seq, index of the native event in the
beacon (or "final"), semantic event name, how many of that name the native event made before): a
retried, split or reordered beacon gives the same ids, and no restart of any counter can give one
event's id to another. Timestamps: the session's clock is anchored once, at the first beacon
received (received time minus ``sent_t``, or minus its last event's ``t``), and each event is
anchor + ``t``.

Settings (``CIOHOOKS_`` prefix; defaults in brackets; each validated when the source is built):

    VIDEO_WRITE_KEYS (secret)      the sites' public write keys, comma-separated [none: 503]
    VIDEO_IDENTITY_SECRETS (secret) the sites' identity secrets, comma-separated [none: no userId]
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

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import ValidationError

from ... import ids, video_sessions
from ...config import ConfigurationError, Settings
from ...envelope import Envelope
from ...request import WebhookRequest
from ...semantic.video import VIDEO_EVENTS, VideoEvent
from .. import _credentials as credentials
from ..base import InvalidPayload, Reply, Source, Translation, Unauthorized
from . import _identity as identity
from ._beacon import Beacon, MalformedBeacon, NativeEvent, content_metadata, field_problems, parse_beacon
from ._identity import IDENTITY_SECRET_SETTING
from ._sequencing import DEFAULT_GAP_TIMEOUT_SECONDS, DEFAULT_MAX_BUFFERED, DEFAULT_REPLAY_RESULTS, SEQUENCING_NOTES, Limits, Released, process_beacon, sweep
from ._signals import ENDED, Signal, number, text

logger = logging.getLogger(__name__)

WRITE_KEY_SETTING = "VIDEO_WRITE_KEYS"
WRITE_KEY_HEADER = "x-cio-write-key"
WRITE_KEY_FIELD = "write_key"  # body field and query parameter

# The video Function URL's CORS configuration, stated once: template.yaml's Cors block must say the
# same (tests/unit/test_video_endpoint.py compares them) and ``ciohooks serve`` answers with these.
CORS_ALLOW_METHODS: tuple[str, ...] = ("POST",)
CORS_ALLOW_HEADERS: tuple[str, ...] = ("content-type", WRITE_KEY_HEADER)
CORS_MAX_AGE_SECONDS = 86_400

DEFAULT_MAX_BODY_BYTES = 65_536
DEFAULT_MAX_EVENTS = 500
DEFAULT_HEARTBEAT_SECONDS = 10

EVENT_BY_NAME: dict[str, type[VideoEvent]] = {cls.name: cls for cls in VIDEO_EVENTS}


class VideoSource(Source):
    """A video player's beacons. Subclasses name the player and map its native events."""

    family: ClassVar[str] = "video"
    secret_name: ClassVar[str | None] = WRITE_KEY_SETTING
    secret_names: ClassVar[tuple[str, ...]] = (WRITE_KEY_SETTING, IDENTITY_SECRET_SETTING)
    ignored_types: ClassVar[Mapping[str, str]] = {}  # each player lists its own
    secret_headers: ClassVar[frozenset[str]] = frozenset({WRITE_KEY_HEADER})
    secret_query_keys: ClassVar[frozenset[str]] = frozenset({WRITE_KEY_FIELD})
    ack_status: ClassVar[int] = 202

    video_player: ClassVar[str]  # the ``video_player`` property
    mapped_types: ClassVar[frozenset[str]]  # native types ``signals`` reads (with ``ignored_types``: every type it knows)
    volume_scale: ClassVar[float] = 1.0  # the player's volume for "full" (HTML5: 1; YouTube, JW: 100)
    # Signals that show a preceding pause was the player's own (held until the next signal).
    pause_held: ClassVar[bool] = False
    pause_cancelled_by: ClassVar[frozenset[str]] = frozenset({ENDED})
    scrub_window_ms: ClassVar[float | None] = None  # a pause this soon before a seek is part of it
    postroll_after_end: ClassVar[bool] = False  # Playback Completed waits for a post-roll break

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A player lists its native types; the sequencing notes every player shares are declared here.
        cls.ignored_types = {**cls.ignored_types, **SEQUENCING_NOTES}

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        # The embedded store lives with these settings (serve and Lambda keep them; translate makes
        # one per run). In AWS the table holds the state and this is only a client.
        self.sessions = video_sessions.store_from_settings(self.settings)
        self.heartbeat_seconds = self._positive("VIDEO_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS)
        self.limits = Limits(
            max_buffered=self._positive("VIDEO_MAX_BUFFERED_BEACONS", DEFAULT_MAX_BUFFERED),
            gap_timeout_ms=1000 * self._positive("VIDEO_GAP_TIMEOUT_SECONDS", DEFAULT_GAP_TIMEOUT_SECONDS),
            replay_results=self._positive("VIDEO_REPLAY_RESULTS", DEFAULT_REPLAY_RESULTS),
        )
        self.max_body_bytes = self._positive("VIDEO_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
        self.max_events = self._positive("VIDEO_MAX_EVENTS_PER_BEACON", DEFAULT_MAX_EVENTS)
        self.allowed_origins = self.settings.get_list("VIDEO_ALLOWED_ORIGINS")
        self.verdicts = identity.Verdicts()

    def _positive(self, name: str, default: int) -> int:
        value = self.settings.get_int(name, default)  # not a whole number: ConfigurationError
        if value <= 0:
            raise ConfigurationError(f"CIOHOOKS_{name} must be a positive whole number")
        return value

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

    def beacon_video(self, beacon: Beacon) -> dict[str, Any]:
        """The content metadata a beacon carries (its ``video``; a player module may complete it
        from the beacon's ``player_metadata``)."""
        return content_metadata(beacon)

    def content_metadata(self, video: dict[str, Any], memo: Mapping[str, Any]) -> dict[str, Any]:
        """The content's metadata for an event: the site's ``video`` object, completed by what the
        player itself reported (kept in ``memo`` by ``signals``). The site's own values win."""
        reported = memo.get("metadata")
        if not isinstance(reported, dict) or not reported:
            return video
        return {**reported, **video}

    def tally_type(self, native_type: str, tally: Translation) -> None:
        """Count a native type that makes no event on purpose (``ignored``) or that this version
        does not know (``unknown``: the request is kept, see DESIGN.md)."""
        if native_type in self.ignored_types:
            tally.ignored[native_type] += 1
        elif native_type not in self.mapped_types:
            tally.unknown[native_type] += 1

    # -- the endpoint ----------------------------------------------------------------------------

    def reply_before_auth(self, request: WebhookRequest) -> Reply | None:
        if request.method == "POST" and len(request.body) > self.max_body_bytes:
            return Reply(413, json.dumps({"error": f"beacon larger than {self.max_body_bytes} bytes"}), "application/json")
        return None

    def authenticate(self, request: WebhookRequest) -> None:
        allowed = self.allowed_origins
        if allowed is not None and "*" not in allowed:
            origin = (request.header("origin") or "").rstrip("/").lower()
            if not origin:
                raise Unauthorized("no Origin header, and VIDEO_ALLOWED_ORIGINS is set")
            if origin not in {o.rstrip("/").lower() for o in allowed}:
                raise Unauthorized("Origin is not in VIDEO_ALLOWED_ORIGINS")
        if (configured := self.secret_or_open(WRITE_KEY_SETTING)) is not None:
            presented = request.header(WRITE_KEY_HEADER) or request.query.get(WRITE_KEY_FIELD) or _body_write_key(request.body)
            keys = credentials.several(WRITE_KEY_SETTING, configured)
            # Every key is compared, so timing does not tell which (or how many) keys exist.
            credentials.require(presented, keys, "write key (header X-CIO-Write-Key, query write_key or body write_key)")
        # The identity claim is authenticated here too (the only place a source reads secrets).
        if identity.claims_user_id(request.body):
            secrets = identity.secrets_of(self.secret(IDENTITY_SECRET_SETTING))
            if (found := identity.verdict_of_body(request.body, secrets)) is not None:
                self.verdicts.keep(request.body, found)

    def attested(self, request: WebhookRequest) -> WebhookRequest:
        """The request with its userId recorded when ``authenticate`` verified it: stored with the
        request, it is what every later translation (deliver, a replay, the sweep) trusts."""
        if self.verdicts.of(request.body) is not identity.Verdict.VERIFIED:
            return request
        try:
            user_id = parse_beacon(request.body).userId
        except MalformedBeacon:  # cannot happen for a body verified above; nothing to record then
            return request
        return replace(request, verified_user_id=user_id)

    def reply_after_accept(self, request: WebhookRequest) -> Reply | None:
        try:
            beacon = parse_beacon(request.body, self.max_events)
            self._identity(beacon, self._verdict(request, beacon), quiet=True)
        except MalformedBeacon as error:
            status = 413 if any(p.startswith("events: more than") for p in error.problems) else 400
            return Reply(status, json.dumps({"error": "malformed beacon", "problems": error.problems}), "application/json")
        except identity.NoVerifiedIdentity as error:
            return Reply(400, json.dumps({"error": "no identity", "problems": [str(error)]}), "application/json")
        return None

    @classmethod
    def sign(cls, request: WebhookRequest, key: str) -> WebhookRequest:
        """Add the site's write key (the first of a comma-separated list) as the tracker would."""
        first = next((k.strip() for k in key.split(",") if k.strip()), "")
        return credentials.with_header(request, WRITE_KEY_HEADER, first)

    def _verdict(self, request: WebhookRequest, beacon: Beacon) -> identity.Verdict | None:
        """What became of the beacon's userId. Verified only as recorded on the request by ingest
        (``attested``), for this very userId; the verdicts kept by body say, in the container that
        authenticated it, why a userId was not verified (for the log). None: never checked here."""
        if beacon.userId and request.verified_user_id == beacon.userId:
            return identity.Verdict.VERIFIED
        found = self.verdicts.of(request.body)
        return None if found is identity.Verdict.VERIFIED else found

    def _identity(self, beacon: Beacon, found: identity.Verdict | None, quiet: bool = False) -> dict[str, str]:
        """The beacon's one identity field, by the verdict ``authenticate`` reached; says in the log
        (once per translation, not ``quiet``) when a userId was not used: why, never the id."""
        if found is None:
            found = identity.Verdict.NOT_CHECKED if beacon.userId else identity.Verdict.NO_USER_ID
        if not quiet and found not in (identity.Verdict.VERIFIED, identity.Verdict.NO_USER_ID):
            fallback = "its events go under anonymousId" if beacon.anonymousId else "no anonymousId either: refused"
            logger.warning("%s beacon: userId not used (%s); %s", self.full_name(), found.value, fallback)
        return identity.identity(beacon, found)

    # -- translation -----------------------------------------------------------------------------

    def translate(self, request: WebhookRequest) -> Translation:
        beacon = parse_beacon(request.body, self.max_events)
        received_ms = int(request.received_at.timestamp() * 1000)
        video = self.beacon_video(beacon)
        verdict = self._verdict(request, beacon)

        def work(record: video_sessions.SessionRecord):
            step = process_beacon(self, record, beacon, lambda: self._identity(beacon, verdict), video, received_ms, self.limits)
            return step.record, (step, record.anchor_ms)

        step, anchor_ms = video_sessions.update(self.sessions, self.session_key(beacon.session_id), work)
        translation = step.tally
        translation.events = self._semantic(step.events, beacon.session_id, anchor_ms, translation)
        return translation

    def session_key(self, session_id: str) -> str:
        return f"{self.full_name()}#{session_id}"

    def _semantic(self, emitted: list[dict[str, Any]], session_id: str, anchor_ms: int | None, translation: Translation) -> list[VideoEvent]:
        """Emitted events as semantic models; one that does not validate is recorded in
        ``translation.failed`` and the others go on."""
        out = []
        for item in emitted:
            with translation.item(item["event"]):
                out.append(self._event(item, session_id, anchor_ms))
        return out

    def _event(self, item: dict[str, Any], session_id: str, anchor_ms: int | None) -> VideoEvent:
        cls = EVENT_BY_NAME[item["event"]]
        try:
            return cls.model_validate({
                **item["who"],
                # The id's parts name the native event and the event itself (``_machine._reserve``).
                "messageId": ids.message_id(self.full_name(), session_id, *(str(part) for part in item["id"])),
                "timestamp": datetime.fromtimestamp(((anchor_ms or 0) + item["t"]) / 1000.0, UTC),
                "properties": item["props"],
            })
        except ValidationError as error:
            raise InvalidPayload(f"{item['event']}: {', '.join(field_problems(error))}") from None
        except (OverflowError, OSError, ValueError):
            raise InvalidPayload(f"{item['event']}: timestamp out of range") from None

    # -- the scheduled sweep -----------------------------------------------------------------------

    def sweep_session(self, key: str, now_ms: int, put: Callable[[Envelope], Any]) -> int:
        """Close the due gaps of session ``key``: queue each released beacon's events with ``put``
        (an envelope per beacon, carrying that beacon as its request), then save the session.
        Queued before saved: a failure between the two re-sends the same ids next time, never
        loses them. Returns how many events were queued."""
        for _ in range(video_sessions.CONFLICT_ATTEMPTS):
            record = self.sessions.load(key)
            if record is None:
                return 0
            version, anchor_ms = record.version, record.anchor_ms
            step = sweep(self, record, now_ms, self.limits)
            if step.record is None:
                return 0
            queued = 0
            for run in step.released:
                envelope = self._sweep_envelope(run, anchor_ms)
                if envelope.events:
                    put(envelope)
                    queued += len(envelope.events)
            try:
                self.sessions.save(step.record, version)
                return queued
            except video_sessions.SessionConflict:
                continue  # a beacon changed the session meanwhile: redo from a fresh load
        raise video_sessions.SessionStoreUnavailable("session state kept changing while the sweep closed its gaps")

    def _sweep_envelope(self, run: Released, anchor_ms: int | None) -> Envelope:
        item = run.beacon
        tally = Translation()
        events = self._semantic(run.events, item["session_id"], anchor_ms, tally)
        if tally.failed:
            logger.warning("%s sweep: %d event(s) could not be built: %s", self.full_name(), len(tally.failed), "; ".join(tally.failed))
        received_at = datetime.fromtimestamp(item["arrived_ms"] / 1000.0, UTC)
        body = {k: item[k] for k in ("session_id", "seq", "sent_t", "final", "video", "events") if item.get(k) is not None}
        # ``who`` is the identity ingest settled for the beacon (a userId only when verified then).
        who = item["who"]
        request = WebhookRequest("POST", f"/{self.name}", json.dumps({**body, **who}).encode(), {"content-type": "application/json"}, received_at=received_at, verified_user_id=who.get("userId"))
        return Envelope(kind="events", source=self.full_name(), received_at=received_at, events=[e.to_cio() for e in events], request=request.to_dict())


def _body_write_key(body: bytes) -> str | None:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    value = raw.get(WRITE_KEY_FIELD) if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value else None
