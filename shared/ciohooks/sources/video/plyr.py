"""Plyr events (as recorded by the tracker) -> Customer.io video semantic events.

Plyr (github.com/sampotts/plyr) wraps an HTML5 ``<video>`` (or a YouTube or Vimeo embed) and fires
the standard media events under their HTML5 names for every provider, so the mapping is
``html5.py``'s, served at ``POST /plyr`` so that ``video_player`` says "plyr", plus Plyr's own
events. Why Plyr: the most used lightweight open-source player (its README's "Used by"; ~28k
GitHub stars), common on sites that embed YouTube or Vimeo with their own controls.

- Events: Plyr README, "Events" (standard media events, HTML5-only events, YouTube-only
  ``statechange``): github.com/sampotts/plyr#events; "API" getters (currentTime, duration, volume
  0..1, muted, paused, ended, speed, quality, fullscreen.active)
- ``qualitychange``: ``event.detail.quality`` (the tracker records it as ``data.quality``); Plyr names
  HTML5 qualities by height (``720``), recorded in the snapshot as "720p"

Mapping beyond html5.py's (see its docstring for the media events):

    qualitychange                QUALITY     Quality Updated: quality <- data.quality ("720" -> "720p")
    enterfullscreen, exitfullscreen  (snapshot)  full_screen is read from the player snapshot
    the others in ``IGNORED`` -> ignored on purpose, each with its reason; any other type is unknown
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import NativeEvent
from ._signals import QUALITY, Signal, text
from .html5 import IGNORED as HTML5_IGNORED
from .html5 import READ_FROM_SNAPSHOT, Html5

PLYR_UI = "Plyr's own interface (controls, captions menu): not playback"
IGNORED = {
    **HTML5_IGNORED,
    "ready": "the player is set up; nothing played yet",
    "enterfullscreen": READ_FROM_SNAPSHOT, "exitfullscreen": READ_FROM_SNAPSHOT,
    "captionsenabled": PLYR_UI, "captionsdisabled": PLYR_UI, "languagechange": PLYR_UI, "controlshidden": PLYR_UI,
    "controlsshown": PLYR_UI, "cuechange": "a caption cue changed: no semantic event",
    "statechange": "the YouTube embed's raw state: Plyr fires it again as the media events",
}


class Plyr(Html5):
    name: ClassVar[str] = "plyr"
    docs_url: ClassVar[str] = "https://github.com/sampotts/plyr#events"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "plyr"
    mapped_types: ClassVar[frozenset[str]] = frozenset({*Html5.mapped_types, "qualitychange"})

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        if event.type == "qualitychange":
            data = event.data if isinstance(event.data, dict) else {}
            label = text(data.get("quality"), 64)
            # Plyr names a quality by its height (720), so the label is all there is: its adapter's
            # snapshot (web/adapters/plyr.js) carries no height of its own.
            return [Signal(QUALITY, fields={"quality": f"{label}p" if label and label.isdigit() else label})]
        return super().signals(event, memo, before, snap)


SOURCE = Plyr
