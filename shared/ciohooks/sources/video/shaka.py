"""Shaka Player events (as recorded by the tracker) -> Customer.io video semantic events.

Shaka Player (github.com/shaka-project/shaka-player, Google's DASH/HLS player) plays through an
HTML5 ``<video>``: the tracker records that element's media events (``html5.py``'s mapping) and
Shaka's own events for what the element cannot say, served at ``POST /shaka`` so that
``video_player`` says "shaka". Why Shaka: the open-source adaptive streaming player behind many
broadcasters' and OTT web apps, and the base of other players' web SDKs.

- Shaka's events (``@event shaka.Player.*`` in lib/player.js): BufferingEvent ``buffering``
  ({buffering: true|false}), AdaptationEvent ``adaptation``, VariantChangedEvent
  ``variantchanged``, ErrorEvent ``error`` (detail: shaka.util.Error, ``severity`` 1 RECOVERABLE,
  2 CRITICAL), LoadingEvent ``loading``; tracks from ``getVariantTracks()`` (``active``,
  ``bandwidth`` in bits/s, ``width``, ``height``, ``frameRate``)
- Media events: see html5.py

Mapping (the element's events as html5.py maps them, except those Shaka says better):

    buffering {buffering: true}   BUFFER_START  Buffer Started
    buffering {buffering: false}  BUFFER_END    Buffer Completed
    adaptation, variantchanged    QUALITY       Quality Updated: bitrate <- bandwidth (bits/s, sent
                                                in kbps), height, framerate <- frameRate
    error                         ERROR         Playback Interrupted when severity is 2 (CRITICAL);
                                                a recoverable error makes no event
    the others in ``IGNORED`` -> ignored on purpose, each with its reason; any other type is unknown
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import NativeEvent
from ._signals import BUFFER_END, BUFFER_START, ERROR, QUALITY, Signal, number
from .html5 import IGNORED as HTML5_IGNORED
from .html5 import Html5

CRITICAL = 2  # shaka.util.Error.Severity.CRITICAL
IGNORED = {
    **HTML5_IGNORED,
    "waiting": "Shaka's buffering event is the buffering signal (the tracker does not record the element's)",
    "resize": "adaptation and variantchanged report the rendition (the tracker does not record the element's)",
    "loading": "new content is being loaded: the tracker starts a new session",
}


class Shaka(Html5):
    name: ClassVar[str] = "shaka"
    docs_url: ClassVar[str] = "https://shaka-player-demo.appspot.com/docs/api/shaka.Player.html"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "shaka"
    mapped_types: ClassVar[frozenset[str]] = frozenset({*Html5.mapped_types - {"waiting", "resize"}, "buffering", "adaptation", "variantchanged"})

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        kind, data = event.type, event.data if isinstance(event.data, dict) else {}
        if kind == "buffering":
            return [Signal(BUFFER_START if data.get("buffering") is True else BUFFER_END)]
        if kind in ("adaptation", "variantchanged"):
            return [Signal(QUALITY, fields={"bitrate": data.get("bandwidth"), "height": data.get("height"), "framerate": data.get("frameRate")})]
        if kind == "error":
            return [Signal(ERROR, fields={"fatal": True})] if number(data.get("severity")) == CRITICAL else []
        return super().signals(event, memo, before, snap)


SOURCE = Shaka
