"""Video players: native event sequences -> Customer.io video semantic events.

The samples (events/samples/video/<player>/, credited in each README.md) are whole sessions written
from the players' documentation; each is translated and pinned event by event. The rules the
issue calls subtle are also checked one by one on small beacons. Every emitted event is validated
against the seed spec.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ciohooks import ids, sources
from ciohooks.config import Settings
from ciohooks.request import WebhookRequest
from ciohooks.sources.video._sequencing import SEQUENCING_NOTES
from tests.support.spec import assert_valid_event

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "samples" / "video"
RECEIVED = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
PLAYERS = ["html5", "videojs", "jwplayer", "vimeo", "youtube", "mux", "brightcove", "plyr", "shaka", "bitmovin", "wistia"]
SAMPLE_FILES = sorted(p for p in SAMPLES.glob("*/*.json"))
# The local-only identity secret of events/keys/local.env: the samples' user_hash values are made with it.
IDENTITY = {"CIOHOOKS_VIDEO_IDENTITY_SECRETS": "local-only-video-identity-secret-2c7e91"}
INTEGER_PROPERTIES = {"position", "total_length", "bitrate", "framerate", "sound", "pod_position", "pod_length", "quartile", "seek_position"}


def translate(player: str, beacon: dict[str, Any] | bytes, settings: dict[str, str] | None = None, received: datetime = RECEIVED, source=None):
    """As ingest does it: authenticate (the write key; the userId's user_hash), then translate."""
    source = source or sources.load(f"video/{player}")(Settings({"CIOHOOKS_VIDEO_WRITE_KEYS": "wk_test", **(settings or {})}))
    body = beacon if isinstance(beacon, bytes) else json.dumps(beacon).encode()
    request = WebhookRequest("POST", f"/{player}", body, {"content-type": "text/plain", "x-cio-write-key": "wk_test"}, received_at=received)
    source.authenticate(request)
    translation = source.translate(source.attested(request))
    bodies = [event.to_cio() for event in translation.events]
    for body in bodies:
        assert_valid_event(body)
    return bodies, translation.ignored


def names(bodies: list[dict[str, Any]]) -> list[str]:
    return [b["event"].removeprefix("Video ") for b in bodies]


def sample(path: str) -> dict[str, Any]:
    return json.loads((SAMPLES / path).read_text())


def session(events: list[tuple], player: dict[str, Any] | None = None, **head: Any) -> dict[str, Any]:
    """A beacon from (t, type, data, player-snapshot-changes) tuples; snapshots accumulate."""
    snap = dict(player if player is not None else {"currentTime": 0, "duration": 100, "volume": 1, "muted": False})
    out = []
    for t, kind, *rest in events:
        data = rest[0] if rest else None
        if len(rest) > 1:
            snap.update(rest[1])
        out.append({"t": t, "type": kind, "data": data, "player": dict(snap)})
    return {"session_id": head.pop("session_id", "s-1"), "anonymousId": "a-1", "seq": 0, **head, "events": out}


# ---- the samples, pinned -------------------------------------------------------------------------

EXPECTED = {
    "html5/watch-to-end.json": [
        "Playback Started", "Content Started", "Content Playing", "Content Playing", "Playback Buffer Started",
        "Playback Buffer Completed", "Content Playing", "Content Playing", "Playback Paused", "Playback Resumed",
        "Playback Seek Started", "Playback Seek Completed", "Content Playing", "Quality Updated", "Content Playing",
        "Content Completed", "Playback Completed"],
    "html5/paused-seek-exit.json": [
        "Playback Started", "Content Started", "Content Playing", "Playback Paused", "Playback Seek Started",
        "Playback Seek Completed", "Playback Exited"],
    "html5/network-error.json": [
        "Playback Started", "Content Started", "Content Playing", "Content Playing", "Playback Buffer Started",
        "Playback Interrupted", "Playback Exited"],
    "videojs/watch-to-end.json": [
        "Playback Started", "Content Started", "Content Playing", "Content Playing", "Playback Buffer Started",
        "Playback Buffer Completed", "Content Playing", "Content Playing", "Playback Paused", "Playback Resumed",
        "Playback Seek Started", "Playback Seek Completed", "Content Playing", "Quality Updated", "Content Playing",
        "Content Completed", "Playback Completed"],
    "vimeo/watch-to-end.json": [
        "Playback Started", "Content Started", "Content Playing", "Playback Buffer Started", "Playback Buffer Completed",
        "Content Playing", "Quality Updated", "Playback Paused", "Playback Resumed", "Playback Seek Started",
        "Playback Seek Completed", "Content Playing", "Content Playing", "Content Completed", "Playback Completed"],
    "vimeo/early-exit.json": [
        "Playback Started", "Content Started", "Content Playing", "Content Playing", "Quality Updated", "Content Playing",
        "Playback Exited"],
    "youtube/watch-to-end.json": [
        "Playback Started", "Content Started", "Content Playing", "Content Playing", "Quality Updated", "Content Playing",
        "Playback Buffer Started", "Playback Buffer Completed", "Content Playing", "Playback Paused", "Playback Resumed",
        "Playback Seek Started", "Playback Seek Completed"] + ["Content Playing"] * 7 + ["Content Completed", "Playback Completed"],
    "youtube/paused-scrub-exit.json": [
        "Playback Started", "Content Started", "Content Playing", "Playback Paused", "Playback Seek Started",
        "Playback Seek Completed", "Playback Exited"],
    "jwplayer/ads-watch-to-end.json": [
        "Playback Started", "Ad Started", "Ad Playing", "Ad Playing", "Ad Playing", "Ad Completed", "Ad Started",
        "Content Started", "Content Playing", "Content Playing", "Content Playing", "Playback Buffer Started",
        "Playback Buffer Completed", "Content Playing", "Quality Updated", "Content Playing", "Content Playing",
        "Playback Paused", "Playback Resumed", "Playback Seek Started", "Playback Seek Completed", "Ad Started",
        "Ad Playing", "Playback Paused", "Playback Resumed", "Ad Playing", "Ad Playing", "Ad Completed"]
        + ["Content Playing"] * 7 + ["Content Completed", "Playback Completed"],
    "jwplayer/fatal-error.json": [
        "Playback Started", "Content Started", "Content Playing", "Content Playing", "Quality Updated", "Content Playing",
        "Playback Interrupted", "Playback Exited"],
    "mux/ads-watch-to-end.json": [
        "Playback Started", "Ad Started", "Ad Playing", "Ad Playing", "Ad Playing", "Ad Completed", "Content Started",
        "Content Playing", "Playback Buffer Started", "Playback Buffer Completed", "Content Playing", "Content Playing",
        "Quality Updated", "Playback Paused", "Playback Resumed", "Content Playing", "Playback Seek Started",
        "Playback Seek Completed", "Ad Started", "Ad Playing", "Playback Paused", "Playback Resumed", "Ad Playing",
        "Ad Playing", "Ad Completed", "Content Playing", "Content Playing", "Content Playing", "Content Completed",
        "Ad Started", "Ad Playing", "Ad Playing", "Ad Playing", "Ad Completed", "Playback Completed"],
    "mux/early-exit.json": [
        "Playback Started", "Content Started", "Content Playing", "Content Playing", "Content Playing", "Playback Paused",
        "Playback Exited"],
    # the plugin's pause before the mid-roll is not the viewer's; the post-roll comes before ended
    "brightcove/ads-watch-to-end.json": [
        "Playback Started", "Ad Started", "Ad Playing", "Ad Playing", "Ad Playing", "Ad Completed", "Content Started",
        "Content Playing", "Content Playing", "Content Playing", "Playback Paused", "Playback Resumed",
        "Playback Seek Started", "Playback Seek Completed", "Ad Started", "Ad Playing", "Playback Paused",
        "Playback Resumed", "Content Playing", "Content Playing", "Content Playing", "Ad Started", "Ad Playing",
        "Ad Playing", "Ad Playing", "Ad Completed", "Content Completed", "Playback Completed"],
    "plyr/watch-to-end.json": [
        "Playback Started", "Content Started", "Content Playing", "Quality Updated", "Content Playing", "Playback Paused",
        "Playback Resumed", "Playback Seek Started", "Playback Seek Completed", "Content Playing", "Content Completed",
        "Playback Completed"],
    # start-up buffering is not a rebuffer; a RECOVERABLE error makes no event, a CRITICAL one interrupts
    "shaka/fatal-error.json": [
        "Playback Started", "Content Started", "Content Playing", "Quality Updated", "Content Playing",
        "Playback Buffer Started", "Playback Buffer Completed", "Content Playing", "Playback Interrupted", "Playback Exited"],
    "bitmovin/ads-watch-to-end.json": [
        "Playback Started", "Ad Started", "Ad Playing", "Ad Playing", "Ad Playing", "Ad Completed", "Content Started",
        "Content Playing", "Content Playing", "Quality Updated", "Content Playing", "Playback Buffer Started",
        "Playback Buffer Completed", "Playback Paused", "Playback Resumed", "Playback Seek Started",
        "Playback Seek Completed", "Ad Started", "Ad Playing"] + ["Content Playing"] * 5 + ["Content Completed", "Playback Completed"],
    # Aurora has no buffering, error or rendition event
    "wistia/paused-seek-exit.json": [
        "Playback Started", "Content Started", "Content Playing", "Content Playing", "Playback Paused", "Playback Seek Started",
        "Playback Seek Completed", "Playback Resumed", "Content Playing", "Playback Paused", "Playback Exited"],
}


def test_every_sample_is_pinned():
    assert {f"{p.parent.name}/{p.name}" for p in SAMPLE_FILES} == set(EXPECTED)
    assert {p.parent.name for p in SAMPLE_FILES} == set(PLAYERS) == {n.split("/")[1] for n in sources.names("video")}


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_sample_translates_to_the_documented_sequence(path):
    player = path.split("/")[0]
    beacon = sample(path)
    bodies, ignored = translate(player, (SAMPLES / path).read_bytes(), IDENTITY)
    assert names(bodies) == EXPECTED[path]
    assert names(bodies).count("Playback Started") == 1
    # a verified userId wins (every sample's user_hash is valid); else the anonymousId
    identity = {"userId": beacon["userId"]} if "userId" in beacon else {"anonymousId": beacon["anonymousId"]}
    message_ids = [b["messageId"] for b in bodies]
    assert len(set(message_ids)) == len(message_ids)
    timestamps = []
    for body in bodies:
        assert {k: body[k] for k in ("userId", "anonymousId") if k in body} == identity
        props = body["properties"]
        if body["event"] != "Video Quality Updated":
            assert props["session_id"] == beacon["session_id"]
        for key in INTEGER_PROPERTIES & set(props):
            assert type(props[key]) is int, (body["event"], key)
        if body["event"].startswith("Video Playback"):
            assert props["video_player"] == {"videojs": "video.js"}.get(player, player)
        if body["event"].startswith("Video Content"):
            # content metadata: exactly what the site sent in `video`, nothing else
            sent = {k: v for k, v in beacon["video"].items() if k != "livestream"}
            assert {k: v for k, v in props.items() if k in sent} == sent
        timestamps.append(datetime.fromisoformat(body["timestamp"]))
    # anchored at the beacon: received time minus sent_t, plus each event's t
    anchor = RECEIVED - timedelta(milliseconds=beacon["sent_t"])
    first_t = next(e["t"] for e in beacon["events"] if e["type"] in ("play", "playing", "onStateChange", "adBreakStart"))
    assert timestamps[0] >= anchor + timedelta(milliseconds=first_t)
    assert max(timestamps) <= RECEIVED
    assert all(ts <= RECEIVED for ts in timestamps)
    assert all(isinstance(k, str) and n > 0 for k, n in ignored.items())


def test_message_ids_name_the_session_the_native_event_and_the_event():
    bodies, _ = translate("html5", (SAMPLES / "html5/paused-seek-exit.json").read_bytes())
    # Pinned: UUIDv5 of "video/html5", the session_id, seq 0, the native event's index in the beacon
    # (2: the play), the event's name and its ordinal among that name's events of that native event.
    assert [(b["event"], b["messageId"]) for b in bodies] == [
        ("Video Playback Started", "4a2af7fb-26e1-5a25-ae79-b0e7d69d32e3"),
        ("Video Content Started", "a3437c54-91cd-5442-963f-7d25ac99d46e"),
        ("Video Content Playing", "fe4e768d-5487-51a2-9e29-7dac57758639"),
        ("Video Playback Paused", "0ec72577-81f6-5637-a84c-e1bdd5142c31"),
        ("Video Playback Seek Started", "bcaab0bc-ed31-5ac7-a1c2-0d236fb1d7b9"),
        ("Video Playback Seek Completed", "161f646e-8094-5440-9f6f-059a41e818ba"),
        ("Video Playback Exited", "aa338896-d312-5a7e-b927-33914441ea61"),  # seq 0, "final"
    ]
    assert bodies[0]["messageId"] == str(uuid.uuid5(ids.NAMESPACE, "\x1f".join(["video/html5", "0b9e6f1a-84d2-4c31-a5de-61c4f0e2b7a3", "0", "2", "Video Playback Started", "0"])))
    # the same session on another player route is another session: other ids
    other, _ = translate("videojs", (SAMPLES / "html5/paused-seek-exit.json").read_bytes())
    assert not {b["messageId"] for b in bodies} & {b["messageId"] for b in other}


def test_html5_sample_properties():
    bodies, ignored = translate("html5", (SAMPLES / "html5/watch-to-end.json").read_bytes())
    by_name = {b["event"]: b["properties"] for b in reversed(bodies)}  # first of each
    assert by_name["Video Playback Started"] == {
        "session_id": "7d1f0c52-3c1e-4d5e-9a40-2f6b8e0c1a11", "position": 0, "total_length": 94, "bitrate": 2400,
        "video_player": "html5", "sound": 100, "full_screen": False, "quality": "720p",
        "content_asset_ids": ["ep-2041"], "content_pod_ids": ["ep-2041-main"],
    }
    assert by_name["Video Content Started"] == {
        "asset_id": "ep-2041", "pod_id": "ep-2041-main", "program": "Coastal Kitchens", "title": "Episode 4: Smoke and Salt",
        "description": "Cold-smoking fish on the Atlantic coast.", "season": "2", "episode": "4", "genre": "Food",
        "publisher": "Example Studios", "channel": "example-food", "full_episode": True, "airdate": "2025-03-14T18:00:00Z",
        "keywords": ["cooking", "seafood", "smoking"], "session_id": "7d1f0c52-3c1e-4d5e-9a40-2f6b8e0c1a11",
        "position": 0, "total_length": 94, "bitrate": 2400,
    }
    seek = next(b["properties"] for b in bodies if b["event"] == "Video Playback Seek Started")
    assert (seek["position"], seek["seek_position"]) == (45, 70)
    quality = next(b["properties"] for b in bodies if b["event"] == "Video Quality Updated")
    assert quality == {"session_id": "7d1f0c52-3c1e-4d5e-9a40-2f6b8e0c1a11", "bitrate": 5800, "quality": "1080p"}  # 5 800 000 bit/s
    completed = bodies[-1]["properties"]
    assert completed["position"] == completed["total_length"] == 94 and completed["sound"] == 0  # muted
    assert ignored == Counter({"canplay": 3, "volumechange": 2, "loadstart": 1, "durationchange": 1, "loadedmetadata": 1, "loadeddata": 1, "progress": 1})


def test_jwplayer_ad_properties():
    bodies, ignored = translate("jwplayer", (SAMPLES / "jwplayer/ads-watch-to-end.json").read_bytes())
    ads = [(b["event"], b["properties"]) for b in bodies if b["event"].startswith("Video Ad")]
    started = [p for e, p in ads if e == "Video Ad Started"]
    assert [(p["type"], p.get("pod_position"), p.get("pod_length"), p["title"]) for p in started] == [
        ("pre-roll", 1, 2, "Spring Sale 2025"), ("pre-roll", 2, 2, "Outdoor Gear"), ("mid-roll", None, None, "Coffee Club")]
    # the second pre-roll was skipped: no Ad Completed for it
    completed = [p for e, p in ads if e == "Video Ad Completed"]
    assert [(p["title"], p["position"], p["total_length"]) for p in completed] == [("Spring Sale 2025", 15, 15), ("Coffee Club", 20, 20)]
    assert [p["quartile"] for e, p in ads if e == "Video Ad Playing"] == [1, 2, 3, 1, 2, 3]
    ad_pause = next(b["properties"] for b in bodies if b["event"] == "Video Playback Paused" and "ad_type" in b["properties"])
    assert ad_pause["ad_type"] == "mid-roll" and "ad_asset_id" not in ad_pause  # JW sends no ad id we could use
    assert ignored["adSkipped"] == 0 and ignored["beforeComplete"] == 1 and ignored["playAttempt"] == 1
    quality = next(b["properties"] for b in bodies if b["event"] == "Video Quality Updated")
    assert quality["bitrate"] == 5000 and quality["quality"] == "1080p"


def test_mux_ads_and_completion_after_the_post_roll():
    bodies, _ = translate("mux", (SAMPLES / "mux/ads-watch-to-end.json").read_bytes())
    started = [b["properties"] for b in bodies if b["event"] == "Video Ad Started"]
    assert [(p["asset_id"], p["type"]) for p in started] == [("ad-9001", "pre-roll"), ("ad-9002", "mid-roll"), ("ad-9003", "post-roll")]
    # The pause Mux fires before each ad break and before the end is not a viewer's pause.
    paused = [b["properties"] for b in bodies if b["event"] == "Video Playback Paused"]
    assert [(p["position"], p.get("ad_type")) for p in paused] == [(35, None), (100, "mid-roll")]
    completed = bodies[-1]
    last_ad = next(b for b in reversed(bodies) if b["event"] == "Video Ad Completed")
    assert completed["event"] == "Video Playback Completed" and completed["timestamp"] > last_ad["timestamp"]
    quality = next(b["properties"] for b in bodies if b["event"] == "Video Quality Updated")
    assert quality == {"session_id": sample("mux/ads-watch-to-end.json")["session_id"], "bitrate": 4386, "quality": "1080p", "framerate": 30}


def test_youtube_scrub_is_a_seek_not_a_pause_and_resume():
    bodies, _ = translate("youtube", (SAMPLES / "youtube/watch-to-end.json").read_bytes())
    seq = names(bodies)
    seek = seq.index("Playback Seek Started")
    assert seq[seek - 2: seek + 2] == ["Playback Paused", "Playback Resumed", "Playback Seek Started", "Playback Seek Completed"]
    started = bodies[seek]["properties"]
    assert (started["position"], started["seek_position"]) == (50, 150)
    assert seq.count("Playback Paused") == 1  # the viewer's pause; the scrub bar's pause is part of the seek
    # at 1.5x, heartbeats come every 10 s of playhead, about 6.7 s of wall clock
    heartbeats = [b for b in bodies if b["event"] == "Video Content Playing" and b["properties"]["position"] > 160]
    gaps = {round((datetime.fromisoformat(b["timestamp"]) - datetime.fromisoformat(a["timestamp"])).total_seconds()) for a, b in zip(heartbeats, heartbeats[1:])}
    assert gaps <= {6, 7}


# ---- the rules, one by one -----------------------------------------------------------------------


def test_first_play_starts_playback_and_content():
    bodies, _ = translate("html5", session([(0, "play"), (50, "playing")], sent_t=60))
    assert names(bodies) == ["Playback Started", "Content Started"]


def test_play_after_pause_resumes_but_not_after_buffering_or_a_seek():
    bodies, _ = translate("html5", session([
        (0, "play"), (10, "playing"),
        (1000, "waiting", None, {"currentTime": 1}), (2000, "playing"),            # buffering: not a resume
        (3000, "seeking", None, {"currentTime": 50}), (3100, "seeked"), (3200, "play"), (3300, "playing"),  # seek: not either
        (4000, "pause", None, {"currentTime": 51}), (9000, "play"), (9010, "playing"),  # a pause: resume
    ], sent_t=9100))
    assert names(bodies) == ["Playback Started", "Content Started", "Playback Buffer Started", "Playback Buffer Completed",
                             "Playback Seek Started", "Playback Seek Completed", "Playback Paused", "Playback Resumed"]


def test_pause_before_ended_is_not_a_pause():
    events = [(0, "play"), (10, "playing"), (100_000, "timeupdate", None, {"currentTime": 100}),
              (100_001, "pause", None, {"currentTime": 100, "ended": True}), (100_002, "ended")]
    bodies, _ = translate("html5", session(events, sent_t=100_010))
    assert "Playback Paused" not in names(bodies)
    assert names(bodies)[-2:] == ["Content Completed", "Playback Completed"]
    # without the tracker's `ended` flag, a pause at the duration is still the end's
    bodies, _ = translate("html5", session([(0, "play"), (10, "playing"), (99_800, "pause", None, {"currentTime": 99.8}), (99_801, "ended")], sent_t=99_900))
    assert "Playback Paused" not in names(bodies)


def test_mux_pause_before_an_ad_break_is_not_a_pause_even_across_beacons():
    source = sources.load("video/mux")(Settings({"CIOHOOKS_VIDEO_WRITE_KEYS": "wk_test"}))
    first = session([(0, "play"), (10, "playing"), (5000, "timeupdate", {"player_playhead_time": 5000}), (5100, "pause", {"player_playhead_time": 5100})], sent_t=5200)
    second = {**session([(5101, "adbreakstart", {"ad_type": "midroll"}), (5200, "adplay", {"ad_id": "x"}), (20_000, "adended", {"ad_id": "x"}),
                         (20_001, "adbreakend"), (20_002, "play"), (20_100, "playing")]), "seq": 1, "sent_t": 20_200}
    one, _ = translate("mux", first, source=source)
    two, _ = translate("mux", second, source=source, received=RECEIVED + timedelta(seconds=15))
    assert names(one) == ["Playback Started", "Content Started"]  # the pause waits for what follows
    assert names(two) == ["Ad Started", "Ad Completed"]  # no Paused, no Resumed
    assert two[0]["properties"]["type"] == "mid-roll"


def test_mux_viewer_pause_is_released_by_the_next_event_with_its_own_time():
    bodies, _ = translate("mux", session([(0, "play"), (10, "playing"), (5000, "pause", {"player_playhead_time": 5000}), (9000, "play")], sent_t=9100))
    assert names(bodies) == ["Playback Started", "Content Started", "Playback Paused", "Playback Resumed"]
    assert bodies[2]["timestamp"] < bodies[3]["timestamp"]
    assert bodies[2]["properties"]["position"] == 5


def test_a_held_pause_is_released_by_the_final_beacon_before_exited():
    bodies, _ = translate("mux", session([(0, "play"), (10, "playing"), (5000, "pause", {"player_playhead_time": 5000})], sent_t=60_000, final=True))
    assert names(bodies)[-2:] == ["Playback Paused", "Playback Exited"]


def test_heartbeats_count_played_playhead_only():
    events = [(0, "play"), (10, "playing")]
    events += [(1000 * s, "timeupdate", None, {"currentTime": s}) for s in range(1, 26)]  # 25 s played
    events += [(26_000, "seeking", None, {"currentTime": 80}), (26_100, "seeked"), (26_200, "playing")]
    events += [(26_200 + 1000 * s, "timeupdate", None, {"currentTime": 80 + s}) for s in range(1, 6)]  # 5 more
    bodies, _ = translate("html5", session(events, sent_t=40_000))
    playing = [b["properties"]["position"] for b in bodies if b["event"] == "Video Content Playing"]
    assert playing == [10, 20, 85]  # 10, 20, then 30 s played in all (25 before the seek + 5 after)


def test_buffering_before_content_plays_and_during_seeks_is_not_reported():
    bodies, _ = translate("vimeo", session([
        (0, "bufferstart"), (500, "bufferend"),   # preload
        (1000, "play", {"seconds": 0, "duration": 60, "percent": 0}), (1100, "bufferstart"), (1500, "bufferend"),  # start-up
        (1600, "playing", {"seconds": 0, "duration": 60, "percent": 0}),
        (5000, "seeking", {"seconds": 30, "duration": 60, "percent": 0.5}), (5010, "bufferstart"),
        (5500, "seeked", {"seconds": 30, "duration": 60, "percent": 0.5}), (5510, "bufferend"),
    ], sent_t=6000))
    assert names(bodies) == ["Playback Started", "Content Started", "Playback Seek Started", "Playback Seek Completed"]


def test_quality_in_kbps_and_only_on_change():
    bodies, _ = translate("jwplayer", session([
        (0, "visualQuality", {"level": {"bitrate": 800_000, "label": "360p", "height": 360}}),  # the first rendition: no update
        (100, "play"),
        (5000, "visualQuality", {"level": {"bitrate": 2_500_499, "label": "720p", "height": 720}}),
        (6000, "visualQuality", {"level": {"bitrate": 2_500_499, "label": "720p", "height": 720}}),  # the same again
        (7000, "levelsChanged", {"currentQuality": 2}),
    ], {"currentTime": 0, "duration": 60, "volume": 50}, sent_t=8000))
    assert names(bodies) == ["Playback Started", "Content Started", "Quality Updated"]
    assert bodies[0]["properties"]["bitrate"] == 800 and bodies[0]["properties"]["sound"] == 50  # JW volume is 0..100
    assert bodies[2]["properties"] == {"session_id": "s-1", "bitrate": 2500, "quality": "720p"}


def test_skipped_ad_is_not_completed():
    bodies, ignored = translate("jwplayer", session([
        (0, "adBreakStart", {"adposition": "pre"}), (10, "adImpression", {"adposition": "pre", "adtitle": "A"}),
        (3000, "adTime", {"position": 3, "duration": 30}), (4000, "adSkipped", {}), (4010, "adBreakEnd", {}), (4100, "play"),
    ], sent_t=5000))
    assert names(bodies) == ["Playback Started", "Ad Started", "Content Started"]


def test_ad_type_is_inferred_where_the_break_falls_when_the_player_does_not_say():
    events = [(0, "adbreakstart"), (10, "adplay", {"ad_id": "p"}), (100, "adended"), (110, "adbreakend"), (120, "play"), (130, "playing"),
              (5000, "pause"), (5001, "adbreakstart"), (5010, "adplay", {"ad_id": "m"}), (6000, "adended"), (6001, "adbreakend")]
    bodies, _ = translate("mux", session(events, sent_t=7000))
    assert [b["properties"]["type"] for b in bodies if b["event"] == "Video Ad Started"] == ["pre-roll", "mid-roll"]


def test_fatal_error_mid_play_interrupts_and_others_do_not():
    bodies, _ = translate("mux", session([(0, "play"), (10, "playing"), (500, "error", {"player_error_severity": "warning"}), (900, "error", {"player_error_code": 4})], sent_t=1000))
    assert names(bodies) == ["Playback Started", "Content Started", "Playback Interrupted"]
    assert bodies[-1]["properties"]["method"] == "player error"
    # an error before playback started interrupts nothing
    bodies, _ = translate("youtube", session([(0, "onError", 100)], sent_t=10))
    assert bodies == []
    # a Vimeo error raised by an API call is not a playback failure
    bodies, _ = translate("vimeo", session([(0, "play", {"seconds": 0}), (5, "playing", {"seconds": 0}), (10, "error", {"method": "setColor", "name": "ContrastError"})], sent_t=20))
    assert names(bodies) == ["Playback Started", "Content Started"]


def test_exited_only_when_the_session_ends_before_completion():
    started = [(0, "play"), (10, "playing"), (3000, "timeupdate", None, {"currentTime": 3})]
    bodies, _ = translate("html5", session(started, sent_t=4000, final=True))
    assert names(bodies)[-1] == "Playback Exited" and bodies[-1]["properties"]["position"] == 3
    ended = started + [(3001, "ended", None, {"currentTime": 100})]
    bodies, _ = translate("html5", session(ended, sent_t=4000, final=True))
    assert names(bodies)[-2:] == ["Content Completed", "Playback Completed"]
    never = [(0, "loadedmetadata")]
    bodies, _ = translate("html5", session(never, sent_t=4000, final=True))
    assert bodies == []


def test_after_completion_the_session_is_over():
    events = [(0, "play"), (10, "playing"), (100_000, "ended", None, {"currentTime": 100}), (101_000, "play"), (101_010, "playing")]
    bodies, _ = translate("html5", session(events, sent_t=102_000))
    assert names(bodies) == ["Playback Started", "Content Started", "Content Completed", "Playback Completed"]


def test_only_what_was_sent():
    bodies, _ = translate("html5", session([(0, "play"), (10, "playing")], {}, sent_t=20))
    assert bodies[0]["properties"] == {"session_id": "s-1", "video_player": "html5"}
    assert bodies[1]["properties"] == {"session_id": "s-1"}


def test_livestream_has_no_total_length():
    beacon = session([(0, "play"), (10, "playing")], {"currentTime": 12.5, "live": True, "volume": 0.3}, sent_t=20)
    bodies, _ = translate("html5", beacon)
    assert bodies[0]["properties"] == {"session_id": "s-1", "position": 13, "video_player": "html5", "sound": 30, "livestream": True}
    # the site's own metadata wins over what the player guessed
    beacon["video"] = {"livestream": False, "asset_id": "x"}
    bodies, _ = translate("html5", beacon)
    assert bodies[0]["properties"]["livestream"] is False and bodies[1]["properties"] == {"asset_id": "x", "session_id": "s-1", "position": 13, "livestream": False}


def test_a_verified_user_id_wins_over_the_anonymous_id():
    # user_hash = hex(HMAC-SHA256("site-secret", "u-9")), as the site's backend computes it
    beacon = {**session([(0, "play")], sent_t=5), "userId": "u-9", "user_hash": "e27bbb89ec0948542221a59613baee54b949195b974621d766bcf3c598521be9"}
    bodies, _ = translate("html5", beacon, {"CIOHOOKS_VIDEO_IDENTITY_SECRETS": "other-site-secret, site-secret"})
    assert bodies[0]["userId"] == "u-9" and "anonymousId" not in bodies[0]


# ---- what each player does not translate, and why ---------------------------------------------------


def test_every_player_says_why_it_ignores_a_type_and_knows_the_rest():
    for player in PLAYERS:
        source = sources.load(f"video/{player}")
        assert source.ignored_types and all(isinstance(reason, str) and reason for reason in source.ignored_types.values()), player
        assert not set(source.ignored_types) & source.mapped_types, f"{player}: a type both mapped and ignored"
    # every type the samples hold (the players' documented events) is mapped or ignored on purpose
    for path in SAMPLE_FILES:
        source = sources.load(f"video/{path.parent.name}")
        for event in sample(f"{path.parent.name}/{path.name}")["events"]:
            assert event["type"] in source.mapped_types or event["type"] in source.ignored_types, (path.name, event["type"])


def test_an_unknown_native_type_is_counted_as_unknown_and_the_others_still_translate():
    beacon = session([(0, "play"), (5, "webkitbeginfullscreen"), (10, "playing"), (20, "webkitbeginfullscreen")], sent_t=30)
    source = sources.load("video/html5")(Settings({"CIOHOOKS_VIDEO_WRITE_KEYS": "wk_test"}))
    bodies, ignored = translate("html5", beacon, source=source)
    assert names(bodies) == ["Playback Started", "Content Started"]
    again = source.translate(WebhookRequest("POST", "/html5", json.dumps({**beacon, "session_id": "s-2"}).encode(), {}, received_at=RECEIVED))
    assert again.unknown == Counter({"webkitbeginfullscreen": 2}) and "webkitbeginfullscreen" not in again.ignored
    assert again.incomplete and "unknown event type 'webkitbeginfullscreen' (x2)" in again.reasons()


def test_one_event_that_cannot_be_built_does_not_lose_the_others():
    # received at the very end of what a timestamp can hold: the events 10 days later cannot be dated
    beacon = session([(0, "play"), (10, "playing"), (864_000_000, "pause", None, {"currentTime": 50})], sent_t=20)
    source = sources.load("video/html5")(Settings({}))
    end = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    translation = source.translate(WebhookRequest("POST", "/html5", json.dumps(beacon).encode(), {}, received_at=end))
    assert [e.name for e in translation.events] == ["Video Playback Started", "Video Content Started"]
    assert translation.failed == ["Video Playback Paused: timestamp out of range"]


# ---- player metadata (issue 13) ------------------------------------------------------------------------


def test_mux_data_metadata_reaches_the_content_properties():
    # Mux Data's metadata fields (mux-docs, options-and-metadata: video_id, video_title, video_series,
    # video_producer, video_stream_type 'live'/'on-demand', video_content_type, video_duration in ms),
    # as mux.emit(..., 'videochange', data) carries them, and as the page gives mux.monitor's data.
    metadata = {"video_id": "mux-v-77", "video_title": "Bread, Part 2", "video_series": "Coastal Kitchens", "video_producer": "North Studio",
                "video_stream_type": "on-demand", "video_content_type": "episode", "video_duration": 120000, "video_language_code": "en"}
    beacon = session([(0, "videochange", metadata), (5, "play", {"player_playhead_time": 0}), (10, "playing", {"player_playhead_time": 0})], {}, sent_t=20)
    bodies, ignored = translate("mux", beacon)
    started, content = bodies
    assert started["properties"]["content_asset_ids"] == ["mux-v-77"] and started["properties"]["total_length"] == 120
    assert content["properties"] == {"session_id": "s-1", "asset_id": "mux-v-77", "title": "Bread, Part 2", "program": "Coastal Kitchens",
                                     "publisher": "North Studio", "full_episode": True, "position": 0, "total_length": 120, "livestream": False}
    assert ignored["videochange"] == 1
    # the same through the beacon's player_metadata (mux.monitor's data); the site's own video wins
    beacon = {**session([(5, "play"), (10, "playing")], {}, sent_t=20), "player_metadata": metadata, "video": {"title": "Our title"}}
    bodies, _ = translate("mux", beacon)
    assert bodies[1]["properties"]["title"] == "Our title" and bodies[1]["properties"]["asset_id"] == "mux-v-77"


def test_jw_player_and_vimeo_report_the_content_id_and_title_they_play():
    # JW playlistItem {index, item: {mediaid, title, description}} (jwplayer events.ts); Vimeo loaded {id}
    jw = session([(0, "playlistItem", {"index": 0, "item": {"mediaid": "a1B2c3D4", "title": "Launch", "description": "The launch film"}}), (5, "play")], {}, sent_t=10)
    bodies, _ = translate("jwplayer", jw)
    assert bodies[1]["properties"] == {"session_id": "s-1", "asset_id": "a1B2c3D4", "title": "Launch", "description": "The launch film"}
    vimeo = session([(0, "loaded", {"id": 76979871}), (5, "play", {"seconds": 0}), (10, "playing", {"seconds": 0})], {}, sent_t=20)
    bodies, _ = translate("vimeo", vimeo)
    assert bodies[1]["properties"]["asset_id"] == "76979871"


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "sources" / "video.md"
GUIDE_SECTIONS = {"html5": "HTML5 and Video.js", "videojs": "HTML5 and Video.js", "jwplayer": "JW Player", "vimeo": "Vimeo player.js", "youtube": "YouTube IFrame API", "mux": "Mux Data",
                  "brightcove": "Brightcove Player", "plyr": "Plyr", "shaka": "Shaka Player", "bitmovin": "Bitmovin Player",
                  "wistia": "Wistia"}


def test_the_guide_names_every_type_each_player_maps_or_ignores_and_lists_only_those_as_ignored():
    import re

    backticked = lambda text: set(re.findall(r"`([A-Za-z][A-Za-z0-9_-]*)`", text))
    guide = GUIDE.read_text(encoding="utf-8")
    section = {title: guide.split(f"### {title}\n", 1)[1].split("\n#", 1)[0] for title in set(GUIDE_SECTIONS.values())}
    ignored: dict[str, set[str]] = defaultdict(set)
    for player, title in GUIDE_SECTIONS.items():
        source = sources.load(f"video/{player}")
        missing = (source.mapped_types | set(source.ignored_types) - set(SEQUENCING_NOTES)) - backticked(section[title])
        assert not missing, f"{player}: the guide does not name {sorted(missing)}"
        ignored[title] |= set(source.ignored_types) - set(SEQUENCING_NOTES)
    for title, text in section.items():
        (row,) = [line for line in text.splitlines() if line.startswith("| ignored on purpose:")]
        listed = backticked(row.split("|")[1])
        assert listed == ignored[title], f"{title}: the guide's ignored list differs from the code: {sorted(listed ^ ignored[title])}"
