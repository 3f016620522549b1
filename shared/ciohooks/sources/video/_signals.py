"""The vocabulary every player module maps its native events onto: *signals*.

A player module (``html5.py``, ``jwplayer.py`` ...) reads one native event and says what it means
as a list of ``Signal``s (play, playing, pause, seek, buffer, ended, time, quality, ad..., error);
the state machine (``_machine.py``) decides which semantic events they become. The small helpers
below read the JSON values players send (numbers that may be bools or NaN, labels, ad positions).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


@dataclasses.dataclass
class Signal:
    """One step of playback, in the vocabulary every player module maps onto."""

    kind: str
    position: float | None = None  # content playhead (s) when the native data says it
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)


PLAY = "play"  # playback requested (HTML5 play)
PLAYING = "playing"  # content frames are moving (HTML5 playing, JW play, YouTube 1)
PAUSE = "pause"
SEEK_START = "seek_start"  # fields: from, to (s)
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
# Content signals a player keeps sending during an ad break (the content element stays around).
CONTENT_SIGNALS = frozenset({PLAY, PLAYING, PAUSE, SEEK_START, SEEK_END, BUFFER_START, BUFFER_END, TIME})


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


def kbps(bits_per_second: Any) -> float | None:
    value = number(bits_per_second)
    return None if value is None else value / 1000.0


def ad_type(value: Any) -> str | None:
    """pre-roll / mid-roll / post-roll from the spellings players use (pre, preroll, pre-roll...)."""
    if not isinstance(value, str):
        return None
    key = value.lower().replace("-", "").replace("_", "").replace(" ", "")
    return {"pre": "pre-roll", "preroll": "pre-roll", "mid": "mid-roll", "midroll": "mid-roll", "post": "post-roll", "postroll": "post-roll"}.get(key)
