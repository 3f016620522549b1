"""The player state machine's memory between native events (and between beacons): named fields.

``PlaybackState`` is what ``_machine.Machine`` reads and changes; ``video_sessions.SessionRecord``
stores it (as JSON, with ``dataclasses.asdict``) between the beacons of a session. ``from_dict``
reads what any version of the code saved: missing keys take their defaults and unknown keys are
dropped, so sessions saved before a field was added stay readable for their life (a day).

Two dictionaries stay open on purpose: ``snap`` (what is known of the player: the tracker's
snapshot keys in the machine's terms, see ``VideoSource.snapshot``) and ``memo`` (a player
module's own notes, e.g. YouTube's last playhead for its seek inference). Both hold what players
report, whose keys vary by player; everything the rules themselves decide on is a named field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

PlayerState = Literal["idle", "starting", "playing", "paused", "seeking", "buffering", "ended", "interrupted"]
PLAYER_STATES: frozenset[str] = frozenset(get_args(PlayerState))


@dataclass
class HeldEvent:
    """A semantic event decided later than the native event that caused it: a pause the next
    signal may show to be the player's own, or Playback Completed waiting for a post-roll break.
    It keeps the time, identity and messageId parts of the native event that caused it."""

    props: dict[str, Any]
    t: float
    id: list[Any]  # the messageId parts reserved when it was held (see Machine._reserve)
    who: dict[str, str]
    was: PlayerState | None = None  # the state before the pause (restored if it was not the viewer's)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> HeldEvent | None:
        if not isinstance(data, dict):
            return None
        was = data.get("was")
        return cls(props=dict(data.get("props") or {}), t=float(data.get("t") or 0.0), id=list(data.get("id") or []), who=dict(data.get("who") or {}), was=was if was in PLAYER_STATES else None)


@dataclass
class AdBreak:
    """The ad break in progress, and the ad playing in it."""

    in_break: bool = False
    type: str | None = None  # pre-roll | mid-roll | post-roll
    pod_id: str | None = None
    active: bool = False  # an ad started and has not completed or been skipped
    info: dict[str, Any] = field(default_factory=dict)  # the ad's fields as the player reported them
    quartile: int = 0  # the last quartile reported for this ad
    paused: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AdBreak:
        return cls(**_known(cls, data))


@dataclass
class PlaybackState:
    state: PlayerState = "idle"
    started: bool = False  # Video Playback Started was sent
    content_started: bool = False
    content_completed: bool = False
    closed: bool = False  # Playback Completed or Exited was sent: the session is over
    before_seek: PlayerState | None = None  # the state a seek returns to
    seek_to: float | None = None
    pending_pause: HeldEvent | None = None
    pending_complete: HeldEvent | None = None
    snap: dict[str, Any] = field(default_factory=dict)  # what is known of the player (see module doc)
    last_pos: float | None = None  # playhead and time of the last heartbeat count
    last_t: float | None = None
    played: float = 0.0  # played seconds since the last Content Playing
    ad: AdBreak = field(default_factory=AdBreak)
    quality: list[Any] | None = None  # [kbps, label, fps] of the rendition last reported
    memo: dict[str, Any] = field(default_factory=dict)  # the player module's own notes

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PlaybackState:
        values = _known(cls, data)
        if values.get("state") not in PLAYER_STATES:
            values.pop("state", None)
        if values.get("before_seek") not in PLAYER_STATES:
            values["before_seek"] = None
        values["pending_pause"] = HeldEvent.from_dict(values.get("pending_pause"))
        values["pending_complete"] = HeldEvent.from_dict(values.get("pending_complete"))
        values["ad"] = AdBreak.from_dict(values.get("ad"))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _known(cls: type, data: dict[str, Any] | None) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in (data or {}).items() if k in names}
