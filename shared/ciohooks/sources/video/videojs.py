"""Video.js player events (as recorded by the tracker) -> Customer.io video semantic events.

Video.js re-fires the HTML5 media events of its tech under the same names (``play``, ``playing``,
``pause``, ``seeking``, ``seeked``, ``waiting``, ``timeupdate``, ``ended``, ``error``,
``volumechange``, ``resize``...), so the mapping is ``html5.py``'s, served at ``POST /videojs``
so that ``video_player`` says "video.js".

- Video.js events: https://docs.videojs.com/player (Events), https://videojs.com/guides/event-target/
- ``player.error()`` returns a ``MediaError`` ({code, message}), which the tracker records as the
  ``error`` event's data.
"""

from __future__ import annotations

from typing import ClassVar, Mapping

from .html5 import IGNORED, Html5

PLAYER_UI = "the player's own interface state, not playback"


class VideoJS(Html5):
    name: ClassVar[str] = "videojs"
    docs_url: ClassVar[str] = "https://docs.videojs.com/player"
    # Video.js adds its own component events to the media events it re-fires.
    ignored_types: ClassVar[Mapping[str, str]] = {
        **IGNORED, "ready": "the player is set up; nothing played yet", "useractive": PLAYER_UI, "userinactive": PLAYER_UI,
        "playerresize": PLAYER_UI,
    }
    video_player: ClassVar[str] = "video.js"


SOURCE = VideoJS
