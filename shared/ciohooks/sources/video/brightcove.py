"""Brightcove Player events (as recorded by the tracker) -> Customer.io video semantic events.

The Brightcove Player is video.js: its content events are the HTML5 media events video.js re-fires
(``html5.py``'s mapping, served at ``POST /brightcove`` so ``video_player`` says "brightcove").
Its advertising plugins (IMA3 for client-side ads, SSAI for server-side ones) run on
videojs-contrib-ads, which adds the ad break's boundaries and Brightcove's "universal" ad events;
the IMA3 plugin translates its own ``ima3-*`` events into them (its ``eventMap``: ``ima3-started``
-> ``ads-ad-started``, ``ima3-complete`` -> ``ads-ad-ended``, ``ima3-first-quartile`` ->
``ads-first-quartile``, ... ``ima3-paused`` -> ``ads-pause``, ``ima3-resumed`` -> ``ads-play``), so
one mapping serves both plugins.

- Brightcove Player is video.js: https://player.support.brightcove.com/getting-started/player-basics.html
- IMA3 plugin: https://player.support.brightcove.com/plugins/advertising-ima3-plugin.html
- contrib-ads events (``adstart``, ``adend``, ``adskip``, ``adtimeout``, ``contentchanged``...):
  github.com/videojs/videojs-contrib-ads docs/integrator/api.md; the universal ``ads-*`` events:
  docs/integrator/common-interface.md; redispatch (no ``playing`` before a pre-roll, ``ended`` once,
  after any post-roll; content media events are not sent during an ad break): redispatch.md
- ``player.mediainfo`` (the catalog's video: id, name, description, duration, reference_id):
  https://player.support.brightcove.com/references/player-catalog-mediainfo.html (the tracker adds it
  to ``loadstart``'s ``data``); ``player.ads.ad`` ({type, index, id, duration}, common-interface.md:
  the tracker adds it to the ``ads-*`` events' ``data`` as ``ad``)

Mapping (native -> signal -> semantic event), beyond html5.py's:

    loadstart              (metadata)      asset_id <- mediainfo.id, title <- name, description
    contentended           (memo)          content reached its end; the next break is a post-roll
                           (``ended`` itself comes once, after the post-roll)
    adstart                AD_BREAK_START  the break begins (startLinearAdMode); type post-roll after
                                           contentended, else inferred: pre-roll before content
                                           started, mid-roll after
    ads-ad-started         AD_START        Ad Started: asset_id <- ad.id, total_length <- ad.duration
    ads-first-quartile, ads-midpoint, ads-third-quartile
                           AD_QUARTILE     Ad Playing (quartile 1, 2, 3)
    ads-ad-ended           AD_COMPLETE     Ad Completed
    ads-ad-skipped         AD_SKIP         nothing: a skipped ad is not completed
    ads-pause, ads-play    AD_PAUSE/PLAY   Playback Paused / Resumed during an ad
    adend                  AD_BREAK_END    the break ends (endLinearAdMode)
    the others in ``IGNORED`` -> ignored on purpose, each with its reason; any other type is unknown

Decisions:

- A content ``pause`` is held until the next signal: the pause that precedes an ad break is the
  plugin's (it pauses content), not the viewer's, and is dropped when ``adstart`` follows.
- ``ended`` comes once, after any post-roll (redispatch), so Playback Completed needs no wait.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from ._beacon import NativeEvent
from ._signals import AD_BREAK_END, AD_BREAK_START, AD_COMPLETE, AD_PAUSE, AD_PLAY, AD_QUARTILE, AD_SKIP, AD_START, ENDED, Signal, number, text
from .html5 import IGNORED as HTML5_IGNORED
from .html5 import Html5
from .videojs import PLAYER_UI

AD_PLAIN = {"adstart": AD_BREAK_START, "adend": AD_BREAK_END, "ads-ad-ended": AD_COMPLETE, "ads-ad-skipped": AD_SKIP, "ads-pause": AD_PAUSE, "ads-play": AD_PLAY}
QUARTILES = {"ads-first-quartile": 1, "ads-midpoint": 2, "ads-third-quartile": 3}
AD_WORKFLOW = "the ad plugin's workflow, before or around a break: adstart, ads-ad-started and adend tell what played"
IGNORED = {
    **{k: v for k, v in HTML5_IGNORED.items() if k != "loadstart"},
    "ready": "the player is set up; nothing played yet", "useractive": PLAYER_UI, "userinactive": PLAYER_UI, "playerresize": PLAYER_UI,
    "adskip": "no break plays (skipLinearAdMode): content goes on, nothing to report",
    "adtimeout": "no ad came in time: content plays, nothing to report",
    "adserror": "the ad failed: it never started, or adend ends the break",
    "ads-request": AD_WORKFLOW, "ads-load": AD_WORKFLOW, "adsready": AD_WORKFLOW, "readyforpreroll": AD_WORKFLOW,
    "contentchanged": "new content in the same player: the tracker starts a new session",
    "contentresumed": "content resumed after a stitched break: adend already ended the break",
    "ads-pod-started": "the pod inside the break that adstart opens", "ads-pod-ended": "the pod inside the break that adend closes",
    "ads-allpods-completed": "every break played: adend closed the last one",
    "ads-click": "a click on the ad: no semantic event", "ads-volumechange": "the ad's volume: no semantic event",
}


class Brightcove(Html5):
    name: ClassVar[str] = "brightcove"
    docs_url: ClassVar[str] = "https://player.support.brightcove.com/plugins/advertising-ima3-plugin.html"
    ignored_types: ClassVar[Mapping[str, str]] = IGNORED
    video_player: ClassVar[str] = "brightcove"
    mapped_types: ClassVar[frozenset[str]] = frozenset({*Html5.mapped_types, "loadstart", "contentended", "ads-ad-started", *AD_PLAIN, *QUARTILES})
    pause_held: ClassVar[bool] = True
    pause_cancelled_by: ClassVar[frozenset[str]] = frozenset({ENDED, AD_BREAK_START, AD_START})

    def signals(self, event: NativeEvent, memo: dict[str, Any], before: Mapping[str, Any], snap: Mapping[str, Any]) -> list[Signal]:
        kind, data = event.type, event.data if isinstance(event.data, dict) else {}
        if kind == "loadstart":
            if isinstance(data.get("mediainfo"), dict):
                memo["metadata"] = mediainfo_metadata(data["mediainfo"])
            return []
        if kind == "contentended":
            memo["content_ended"] = True  # ended itself comes after the post-roll
            return []
        if kind == "adstart":
            return [Signal(AD_BREAK_START, fields={"type": "post-roll" if memo.get("content_ended") else None})]
        if kind in AD_PLAIN:
            return [Signal(AD_PLAIN[kind])]
        if kind in QUARTILES:
            return [Signal(AD_QUARTILE, fields={"quartile": QUARTILES[kind]})]
        if kind == "ads-ad-started":
            ad = data.get("ad") if isinstance(data.get("ad"), dict) else {}
            return [Signal(AD_START, fields={"asset_id": text(ad.get("id")), "total_length": number(ad.get("duration"))})]
        return super().signals(event, memo, before, snap)


def mediainfo_metadata(info: Mapping[str, Any]) -> dict[str, Any]:
    """What Brightcove's catalog says of the content (``player.mediainfo``), where the site's ``video`` is silent."""
    found = {"asset_id": text(info.get("id")), "title": text(info.get("name"), 512), "description": text(info.get("description"), 4096)}
    return {k: v for k, v in found.items() if v is not None}


SOURCE = Brightcove
