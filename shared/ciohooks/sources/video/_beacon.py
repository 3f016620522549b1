"""The beacon: what the tracker posts, parsed and validated in one pass.

A beacon (JSON; ``Content-Type`` application/json or text/plain, so ``navigator.sendBeacon`` can
post it without a CORS preflight)::

    {
      "session_id": "4f1c...",         one playback session of one player on one page (a UUID)
      "anonymousId": "a-123",          the viewer as the page knows them before any login
      "userId": "u-42",                optional: the logged-in viewer, accepted only with
      "user_hash": "9f2c...",          hex HMAC-SHA256 of userId made by the site's backend
                                       (``_identity.py``); otherwise anonymousId is used
      "seq": 0,                        0, 1, 2, ... one per beacon of the session
      "sent_t": 15230,                 optional: when it was sent, in ms on the events' clock
      "final": true,                   optional: the session is over (page hide, player removed)
      "write_key": "wk_...",           optional: the site's write key (or header X-CIO-Write-Key,
                                       or query ?write_key=); sendBeacon cannot set headers
      "video": {"asset_id": "...", "title": "...", ...}     content metadata, as the site knows it
      "player_metadata": {"video_id": "...", ...}           optional: the player integration's own
                                       metadata object (Mux Data's ``data``)
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

Malformed beacons are refused with a 400 naming fields (never values): see ``_source.py``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..base import InvalidPayload


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
    user_hash: str | None = Field(default=None, max_length=128)
    write_key: str | None = Field(default=None, max_length=256)
    video: VideoMetadata | None = None
    # The player integration's own metadata object, as the page gave it to the player (Mux Data's
    # ``data``): each player module reads what it knows of it (``VideoSource.beacon_video``).
    player_metadata: dict[str, Any] | None = Field(default=None, max_length=64)
    events: list[NativeEvent] = Field(default_factory=list)



def field_problems(error: ValidationError) -> list[str]:
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
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise MalformedBeacon([f"body is not JSON ({error.__class__.__name__})"]) from None
    if not isinstance(raw, dict):
        raise MalformedBeacon([f"body is a JSON {type(raw).__name__}, not an object"])
    if max_events is not None and isinstance(raw.get("events"), list) and len(raw["events"]) > max_events:
        raise MalformedBeacon([f"events: more than {max_events} in one beacon"])
    try:
        beacon = Beacon.model_validate(raw)
    except ValidationError as error:
        raise MalformedBeacon(field_problems(error)) from None
    if not (beacon.userId or beacon.anonymousId):
        raise MalformedBeacon(["userId or anonymousId is required"])
    return beacon


def content_metadata(beacon: Beacon) -> dict[str, Any]:
    """The beacon's ``video`` object as JSON, only the keys that were sent."""
    if beacon.video is None:
        return {}
    return beacon.video.model_dump(mode="json", exclude_none=True)
